/*
 * common/json_fault.c - jansson's parse errors without the input, see
 * json_fault.h.
 */
#include "common/json_fault.h"

#include <ctype.h>

const char *json_fault(const json_error_t *jerr)
{
    switch (json_error_code(jerr)) {
    case json_error_premature_end_of_input:
        return "the text ends inside a value";
    case json_error_end_of_input_expected:
        return "more text after the JSON value";
    case json_error_invalid_utf8:
        return "the text is not UTF-8";
    case json_error_null_character:
    case json_error_null_byte_in_key:
        return "a string holds a NUL character";
    case json_error_duplicate_key:
        return "a member appears twice";
    case json_error_numeric_overflow:
        return "a number is too large";
    case json_error_stack_overflow:
        return "values nested too deep";
    case json_error_out_of_memory:
        return "out of memory";
    default:
        return "invalid JSON syntax";
    }
}

int json_name_like(const char *s, size_t max, int dotted)
{
    size_t i;
    int part_start = 1;

    for (i = 0; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];

        if (i + 1 >= max)
            return 0;
        if (dotted && c == '.' && !part_start) {
            part_start = 1;
            continue;
        }
        if (part_start ? !(isalpha(c) || c == '_')
                       : !(isalnum(c) || c == '_'))
            return 0;
        part_start = 0;
    }
    return i > 0 && !part_start;
}
