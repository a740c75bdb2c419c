/*
 * common/huge_pages.c - whether the kernel holds free huge pages now
 * (see huge_pages.h for why riffle asks).
 */
#include "common/huge_pages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 2 MiB: the huge page of x86-64 and of arm64 with 4 KiB pages. */
#define HUGE_PAGES_BYTES ((size_t)2 << 20)

/* /proc/buddyinfo lists orders 0 to 10 on common kernels; a kernel
 * built with more lists more, and a line is never near this long. */
#define HUGE_PAGES_LINE_MAX 512

/* The huge-page-sized blocks one buddyinfo line lists, or 0 when the
 * line does not read as "Node N, zone NAME c0 c1 ...". */
static size_t free_in_line(const char *line, size_t page_bytes,
                           size_t huge_bytes)
{
    const char *p = strstr(line, "zone");
    size_t blocks = 0, order_bytes = page_bytes;
    char *end;

    if (strncmp(line, "Node", 4) != 0 || !p)
        return 0;
    p += 4;
    while (*p == ' ' || *p == '\t')
        p++;
    while (*p && *p != ' ' && *p != '\t')
        p++; /* the zone's name */

    for (;;) {
        unsigned long long count = strtoull(p, &end, 10);

        if (end == p)
            break;
        if (order_bytes >= huge_bytes)
            blocks += (size_t)count * (order_bytes / huge_bytes);
        p = end;
        if (order_bytes > ((size_t)-1) / 2)
            break; /* no order past this fits a size_t */
        order_bytes *= 2;
    }
    return blocks;
}

size_t huge_pages_free_in(const char *buddyinfo, size_t page_bytes,
                          size_t huge_bytes)
{
    char line[HUGE_PAGES_LINE_MAX];
    size_t blocks = 0;
    const char *p = buddyinfo;

    if (page_bytes == 0 || huge_bytes < page_bytes)
        return 0;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);

        if (len < sizeof(line)) {
            memcpy(line, p, len);
            line[len] = '\0';
            blocks += free_in_line(line, page_bytes, huge_bytes);
        }
        p += len + (nl ? 1 : 0);
    }
    return blocks;
}

int huge_pages_worth_asking(size_t bytes)
{
    char text[4096];
    long page = sysconf(_SC_PAGESIZE);
    size_t len, wanted = (bytes + HUGE_PAGES_BYTES - 1) / HUGE_PAGES_BYTES;
    FILE *f = fopen("/proc/buddyinfo", "r");

    if (!f || page <= 0) {
        if (f)
            fclose(f);
        return 0;
    }
    len = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[len] = '\0';

    return huge_pages_free_in(text, (size_t)page, HUGE_PAGES_BYTES) >=
           2 * wanted;
}
