/*
 * common/json_fault.h - what is wrong with text that jansson could not
 * parse, and whether a word may be quoted back, in words of our own.
 *
 * jansson's own texts quote the input near the fault ("invalid token
 * near 'Smith'"), and the text may be a request body or a data file
 * given where a schema was expected: either holds personal values that
 * an answer or a log line must not echo. Pure functions; any thread.
 */
#ifndef RIFFLE_COMMON_JSON_FAULT_H
#define RIFFLE_COMMON_JSON_FAULT_H

#include <stddef.h>

#include <jansson.h>

/* The kind of fault jerr records ("invalid JSON syntax", "a member
 * appears twice", ...), never its text: a static string. */
const char *json_fault(const json_error_t *jerr);

/* Whether s reads as an Avro name, [A-Za-z_][A-Za-z0-9_]*, shorter than
 * max bytes; with dotted, also a full name whose parts are joined by
 * dots (riffle.elec2.Event). Only such a word is quoted back where it
 * may stand for a value: an e-mail or "Kay Smith" is not one, and
 * "kay.smith" is one only where dotted names are expected. */
int json_name_like(const char *s, size_t max, int dotted);

#endif
