/*
 * bench_parse.c - what dm_parse_run costs over libxml2's own reader loop.
 *
 * Both passes read the same file through the same struct dm_source (stdio,
 * 64 KiB buffer):
 *   bare    xmlReaderForIO with the parser's options; per node Read,
 *           NodeType, ConstLocalName and ConstValue; counts <record>s
 *   parser  dm_parse_run with an empty sink (only record() is set, to count)
 * It prints MB/s and records/s for each, the ratio of their times, and the
 * peak RSS of the process (getrusage), which covers both passes.
 *
 * Usage: bench_parse report.xml [runs]   (best of runs, default 3)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <libxml/xmlreader.h>

#include "parse.h"

struct file_src {
	FILE *f;
	int failed;
};

static ssize_t
file_read(void *ctx, void *buf, size_t len, struct dm_error *err)
{
	struct file_src *s = ctx;
	size_t n = fread(buf, 1, len, s->f);

	if (n == 0 && ferror(s->f)) {
		s->failed = 1;
		dm_error_set(err, DM_EIO, "read error");
		return -1;
	}
	return (ssize_t)n;
}

/* libxml2's callback on top of the same dm_source. */
static int
xml_read(void *ctx, char *buf, int len)
{
	struct dm_error err;

	return (int)file_read(ctx, buf, (size_t)len, &err);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static FILE *
open_file(const char *path)
{
	FILE *f = fopen(path, "rb");

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	setvbuf(f, NULL, _IOFBF, 64 * 1024);
	return f;
}

static unsigned long
bare_pass(const char *path)
{
	struct file_src src = {open_file(path), 0};
	xmlTextReaderPtr r;
	unsigned long records = 0;
	size_t sink = 0;
	int ret;

	r = xmlReaderForIO(xml_read, NULL, &src, NULL, NULL,
	    XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_COMPACT);
	while ((ret = xmlTextReaderRead(r)) == 1) {
		int type = xmlTextReaderNodeType(r);
		const xmlChar *name = xmlTextReaderConstLocalName(r);
		const xmlChar *value = xmlTextReaderConstValue(r);

		if (type == XML_READER_TYPE_ELEMENT &&
		    strcmp((const char *)name, "record") == 0)
			records++;
		if (value != NULL)
			sink += value[0];
	}
	xmlFreeTextReader(r);
	fclose(src.f);
	if (ret != 0) {
		fprintf(stderr, "bare loop: parse error\n");
		exit(1);
	}
	return records + (sink == (size_t)-1);
}

static int
count_record(void *ctx, const struct dm_feedback *fb,
    const struct dm_record *rec, struct dm_error *err)
{
	(void)fb;
	(void)rec;
	(void)err;
	(*(unsigned long *)ctx)++;
	return DM_OK;
}

static unsigned long
parser_pass(const char *path)
{
	struct file_src fs = {open_file(path), 0};
	struct dm_source src = {&fs, file_read};
	unsigned long records = 0;
	struct dm_sink sink = {&records, NULL, count_record, NULL};
	struct dm_limits lim = dm_limits_default();
	struct dm_parser *p;
	struct dm_error err;

	if (dm_parser_new(&p, &lim, &sink, &err) != DM_OK ||
	    dm_parse_run(p, &src, &err) != DM_OK) {
		fprintf(stderr, "dm_parse_run: %s\n", err.msg);
		exit(1);
	}
	dm_parser_free(p);
	fclose(fs.f);
	return records;
}

static long
file_size(const char *path)
{
	FILE *f = open_file(path);
	long n;

	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fclose(f);
	return n;
}

static void
report(const char *what, double secs, long bytes, unsigned long records)
{
	printf("%-7s %8.3f s  %8.1f MB/s  %10.0f records/s  (%lu records)\n",
	    what, secs, (double)bytes / 1e6 / secs, (double)records / secs,
	    records);
}

int
main(int argc, char **argv)
{
	double best_bare = 1e30, best_parser = 1e30, t;
	unsigned long nb = 0, np = 0;
	struct rusage ru;
	int runs, i;
	long bytes;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_parse report.xml [runs]\n");
		return 2;
	}
	runs = argc > 2 ? atoi(argv[2]) : 3;
	bytes = file_size(argv[1]);
	for (i = 0; i < runs; i++) {
		t = now();
		nb = bare_pass(argv[1]);
		if ((t = now() - t) < best_bare)
			best_bare = t;
		t = now();
		np = parser_pass(argv[1]);
		if ((t = now() - t) < best_parser)
			best_parser = t;
	}
	if (nb != np) {
		fprintf(stderr, "record counts differ: bare %lu, parser %lu\n",
		    nb, np);
		return 1;
	}
	printf("%s: %.1f MB, best of %d runs\n", argv[1], (double)bytes / 1e6,
	    runs);
	report("bare", best_bare, bytes, nb);
	report("parser", best_parser, bytes, np);
	printf("ratio   %.2fx the bare loop's time\n", best_parser / best_bare);
	getrusage(RUSAGE_SELF, &ru);
	printf("peak RSS %.1f MiB\n", (double)ru.ru_maxrss / 1024.0);
	return 0;
}
