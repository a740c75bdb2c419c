/*
 * common/huge_pages.h - whether the kernel holds free huge pages now.
 *
 * A large table read at random (the model's weights) misses the TLB on
 * nearly every feature when it sits on 4 KiB pages; on 2 MiB pages the
 * same table needs 512 times fewer entries. Asking the kernel for huge
 * pages (MADV_HUGEPAGE) is cheap when it already has free 2 MiB blocks,
 * and costly when it must compact memory to make them: one 32 MiB
 * commit took 17 ms in one run and 1,047 ms in the next. So riffle asks
 * only when /proc/buddyinfo shows enough free blocks, and never waits
 * for the kernel to make them.
 */
#ifndef RIFFLE_COMMON_HUGE_PAGES_H
#define RIFFLE_COMMON_HUGE_PAGES_H

#include <stddef.h>

/* The free blocks of at least huge_bytes in a /proc/buddyinfo text (one
 * line per zone: "Node 0, zone Normal" then the free block counts of
 * orders 0, 1, ...; a block of order k is 2^k pages of page_bytes), in
 * units of huge_bytes. Lines that do not read so are skipped; a text
 * with none gives 0. */
size_t huge_pages_free_in(const char *buddyinfo, size_t page_bytes,
                          size_t huge_bytes);

/* Whether a table of bytes should ask for huge pages now: 1 when the
 * kernel's free huge-page-sized blocks cover it twice over (the rest of
 * the process and other processes draw from the same blocks meanwhile),
 * 0 otherwise, also when /proc/buddyinfo cannot be read. */
int huge_pages_worth_asking(size_t bytes);

#endif
