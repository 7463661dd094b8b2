/* Stands in for <check.h> when configure ran with --disable-tests: a test program built
 * anyway stops here with a message saying how to get the tests back. */
#ifndef NSC_NO_CHECK_H
#define NSC_NO_CHECK_H
#error "nodescaler was configured with --disable-tests: install the check library (Debian: check) and rerun configure without --disable-tests to build the tests"
#endif
