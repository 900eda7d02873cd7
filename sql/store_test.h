/*
 * store_test.h - hooks of the store for its tests; nothing but tests/ includes
 * it, and nothing in a dmarcstat run calls these.
 */
#ifndef DM_STORE_TEST_H
#define DM_STORE_TEST_H

#include <stdint.h>

#include "error.h"
#include "store.h"

struct sqlite3;

/* The SQLite handle, to check rows; borrowed while the store is open. */
struct sqlite3 *dm_store_sqlite(struct dm_store *s);

/* The embedded migrate_vN.sql, which upgrades version N-1 to N; NULL if none.
 */
const char *dm_store_migration_script(int version);

/* Caps the database at pages pages (PRAGMA max_page_count), to provoke
 * SQLITE_FULL. */
int dm_store_set_max_pages(
    struct dm_store *s, uint64_t pages, struct dm_error *err) DM_WUR;

#endif /* DM_STORE_TEST_H */
