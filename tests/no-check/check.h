/* Stands in for <check.h> when configure ran with --disable-tests: a test program built
 * anyway stops here with a message saying how to get the tests back. */
#ifndef NSC_NO_CHECK_H
#define NSC_NO_CHECK_H
#error "configured with --disable-tests: install check (Debian: check), configure again"
#endif
