/*
 * ops/dashboard.h - the dashboard page, a static string (see
 * dashboard.c); ops/exporter.c serves it.
 */
#ifndef RIFFLE_OPS_DASHBOARD_H
#define RIFFLE_OPS_DASHBOARD_H

extern const char ops_dashboard_html[];

#endif
