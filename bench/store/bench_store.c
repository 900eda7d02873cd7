/*
 * bench_store.c - how fast the store takes records through its sink, into a
 * real file.
 *
 * Stores N records (default 1,000,000) as reports of 1,000 records, one report
 * per unit, the way ingest drives the store: unit_begin, payload_begin, the
 * sink's begin/record.../end, payload_end, unit_end, and a flush at the end.
 * Each record has one DKIM and one SPF result, every tenth a reason, and a
 * source IP out of 65,536.  It prints records/s, rows/s (records + results +
 * reasons), the database size and the process's peak RSS.
 *
 * Usage: bench_store DB [records]   (DB must not exist; it is left for
 * inspection)
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "store.h"

#define PER_REPORT 1000

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
store_report(struct dm_store *s, unsigned long n, unsigned long count,
    uint64_t *rows, struct dm_error *err)
{
	static const struct dm_reason reason = {"forwarded", NULL};
	struct dm_dkim_result dkim = {"example.com", "s1", "pass", NULL};
	struct dm_spf_result spf = {
	    "bounce.example.com", "mfrom", "softfail", NULL};
	struct dm_feedback fb = {.schema = DM_SCHEMA_RFC7489,
	    .org_name = "bench.example",
	    .begin = 1700006400 + (int64_t)n * DM_DAY_SECONDS,
	    .end = 1700092799 + (int64_t)n * DM_DAY_SECONDS,
	    .policy = {.domain = "example.com", .p = "reject", .pct = 100}};
	struct dm_record rec = {.disposition = "none",
	    .dkim = "pass",
	    .spf = "fail",
	    .header_from = "example.com",
	    .envelope_from = "bounce.example.com",
	    .dkim_results = &dkim,
	    .n_dkim = 1,
	    .spf_results = &spf,
	    .n_spf = 1};
	struct dm_sink k = dm_store_sink(s);
	char id[32], ip[32];
	unsigned long i;
	int rc;

	snprintf(id, sizeof(id), "bench-%lu", n);
	fb.report_id = id;
	rec.source_ip = ip;
	if ((rc = k.begin(k.ctx, &fb, err)) != DM_OK)
		return rc;
	for (i = 0; i < count; i++) {
		snprintf(ip, sizeof(ip), "10.%lu.%lu.1",
		    (i * 7919 % 65536) / 256, i % 256);
		rec.index = i + 1;
		rec.count = (int64_t)(i % 13 + 1);
		rec.reasons = i % 10 == 0 ? &reason : NULL;
		rec.n_reasons = i % 10 == 0;
		if ((rc = k.record(k.ctx, &fb, &rec, err)) != DM_OK)
			return rc;
		*rows += 3 + rec.n_reasons;
	}
	return k.end(k.ctx, &fb, err);
}

static int
store_unit(struct dm_store *s, unsigned long n, unsigned long count,
    uint64_t *rows, struct dm_error *err)
{
	struct dm_store_unit u = {.path = "bench"};
	char sha[65];
	int rc;

	snprintf(sha, sizeof(sha), "%064lx", n);
	u.sha256 = sha;
	if ((rc = dm_store_unit_begin(s, &u, err)) != DM_OK ||
	    (rc = dm_store_payload_begin(s, NULL, err)) != DM_OK)
		return rc;
	rc = store_report(s, n, count, rows, err);
	if (dm_store_payload_end(s, rc == DM_OK, rc == DM_OK ? err : NULL) !=
	        DM_OK &&
	    rc == DM_OK)
		return DM_EDB;
	return rc != DM_OK ? rc : dm_store_unit_end(s, err);
}

int
main(int argc, char **argv)
{
	unsigned long total = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000,
	              n, done = 0;
	struct dm_store *s;
	struct dm_error err;
	struct rusage ru;
	struct stat sb;
	uint64_t rows = 0;
	double t0, t;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_store DB [records]\n");
		return 2;
	}
	if (dm_store_open(&s, argv[1], &err) != DM_OK) {
		fprintf(stderr, "bench_store: %s\n", err.msg);
		return 1;
	}
	t0 = now_s();
	for (n = 0; done < total; n++, done += PER_REPORT) {
		if (store_unit(s, n,
		        total - done < PER_REPORT ? total - done : PER_REPORT,
		        &rows, &err) != DM_OK)
			break;
	}
	if (done >= total && dm_store_flush(s, &err) == DM_OK) {
		t = now_s() - t0;
		dm_store_close(s);
		stat(argv[1], &sb);
		getrusage(RUSAGE_SELF, &ru);
		printf("%lu records in %.2f s: %.0f records/s, %.0f rows/s; db "
		       "%.1f MB; "
		       "peak RSS %ld MB\n",
		    total, t, (double)total / t, (double)rows / t,
		    (double)sb.st_size / 1e6, ru.ru_maxrss / 1024);
		return 0;
	}
	fprintf(stderr, "bench_store: %s\n", err.msg);
	dm_store_close(s);
	return 1;
}
