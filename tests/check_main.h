/*
 * check_main.h - main() of the Check suites that have a case over the shared
 * corpus of real reports (../shared/corpus).
 *
 * "check_NAME" runs every case but those tagged "corpus"; "check_NAME corpus"
 * runs only those, and exits 77 without running them when the corpus is not
 * there.  CTest registers both (tests/CMakeLists.txt), the second with
 * SKIP_RETURN_CODE 77, so a run without the corpus says "Skipped" instead of
 * passing a test that tested nothing.
 */
#ifndef DM_CHECK_MAIN_H
#define DM_CHECK_MAIN_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* CTest's SKIP_RETURN_CODE for a test that could not run. */
#define DM_CHECK_SKIPPED 77
#define DM_CHECK_CORPUS_TAG "corpus"

/* Marks tc as a corpus case. */
static inline void
dm_check_corpus_case(TCase *tc)
{
	tcase_set_tags(tc, DM_CHECK_CORPUS_TAG);
}

/* 1, after saying so, when argv asks for the corpus cases and the corpus is
 * not there: main() then returns DM_CHECK_SKIPPED before any setup. */
static inline int
dm_check_corpus_missing(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "corpus") != 0 ||
	    access(DM_CORPUS_DIR "/MANIFEST.tsv", R_OK) == 0)
		return 0;
	printf("corpus not found at %s: corpus cases skipped\n", DM_CORPUS_DIR);
	return 1;
}

/* Runs s as argv asks; the exit status for CTest. */
static inline int
dm_check_main(int argc, char **argv, Suite *s)
{
	int corpus = argc > 1 && strcmp(argv[1], "corpus") == 0;
	SRunner *sr = srunner_create(s);
	int failed;

	if (dm_check_corpus_missing(argc, argv)) {
		srunner_free(sr);
		return DM_CHECK_SKIPPED;
	}
	srunner_run_tagged(sr, NULL, NULL, corpus ? DM_CHECK_CORPUS_TAG : NULL,
	    corpus ? NULL : DM_CHECK_CORPUS_TAG, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* DM_CHECK_MAIN_H */
