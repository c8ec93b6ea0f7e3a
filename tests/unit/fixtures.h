/* SPDX-License-Identifier: Apache-2.0 */
/* The real ESP32 images the unit tests read live outside the repository (MQOTA_FIXTURES, by
 * default ../shared/fixtures/firmware). Without them a test is skipped, not failed: cmocka
 * reports each test that needs them as skipped, and the program exits MQOTA_TEST_SKIPPED,
 * which CTest shows as "Skipped" (SKIP_RETURN_CODE in tests/CMakeLists.txt).
 *
 * Two ways to use it:
 *  - a file whose every test needs the images (their setup reads them):
 *      return mqota_fixtures_run_group("name", tests, group_setup, group_teardown);
 *  - a file where only some do: MQOTA_SKIP_WITHOUT_FIXTURES(); first in those tests, and
 *      return mqota_fixtures_exit(cmocka_run_group_tests(tests, NULL, NULL));
 *
 * Include it after <cmocka.h>. */
#ifndef MQOTA_TEST_FIXTURES_H
#define MQOTA_TEST_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifndef MQOTA_FIXTURES
#error "MQOTA_FIXTURES must name the directory of the fixture images"
#endif

/* The exit status CTest reads as "skipped" (the Automake convention). */
#define MQOTA_TEST_SKIPPED 77

/* Returns the first fixture file that cannot be read, or NULL when all can. */
static inline const char *mqota_fixtures_missing(void)
{
    static const char *const files[] = {
        "SOURCES.md",
        "idf_hello_world_esp32_2023.bin",
        "idf_hello_world_esp32_2024.bin",
        "arduino_nerdminer_esp32_v1.6.3.bin",
        "arduino_nerdminer_esp32s3_v1.4.bin",
        "arduino_nerdminer_esp32s3_v1.5.2.bin",
        "idf_blink_esp32s2.bin",
    };
    static char path[1024];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", MQOTA_FIXTURES, files[i]);
        if (access(path, R_OK) != 0) {
            return path;
        }
    }
    return NULL;
}

/* Says once, on stderr, why tests are skipped. */
static inline void mqota_fixtures_say_skipped(void)
{
    static int said;
    const char *missing = mqota_fixtures_missing();
    if (!said && missing != NULL) {
        fprintf(stderr, "SKIP: the fixture image %s cannot be read; tests that need the real ESP32 "
                        "images are skipped (see docs/TESTING.md)\n", missing);
        said = 1;
    }
}

/* First statement of a test that reads a fixture image: skips it when they are missing. */
#define MQOTA_SKIP_WITHOUT_FIXTURES()             \
    do {                                          \
        if (mqota_fixtures_missing() != NULL) {   \
            mqota_fixtures_say_skipped();         \
            skip();                               \
        }                                         \
    } while (0)

/* The program's exit status from cmocka's count of failed tests: MQOTA_TEST_SKIPPED when
 * nothing failed but the fixtures were missing (some tests were skipped). */
static inline int mqota_fixtures_exit(int failed)
{
    if (failed == 0 && mqota_fixtures_missing() != NULL) {
        mqota_fixtures_say_skipped();
        return MQOTA_TEST_SKIPPED;
    }
    return failed;
}

static inline void mqota_fixtures_skip_test(void **state)
{
    (void)state;
    skip();
}

/* Runs a group whose every test needs the fixtures (its setups read them). Without them each
 * test is run as a skip with no setup or teardown, and the status is MQOTA_TEST_SKIPPED. */
static inline int mqota_fixtures_run_group_n(const char *name, const struct CMUnitTest *tests,
                                             size_t n, CMFixtureFunction group_setup,
                                             CMFixtureFunction group_teardown)
{
    if (mqota_fixtures_missing() == NULL) {
        return _cmocka_run_group_tests(name, tests, n, group_setup, group_teardown);
    }
    mqota_fixtures_say_skipped();
    struct CMUnitTest *skipped = calloc(n, sizeof(*skipped));
    if (skipped == NULL) {
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        skipped[i].name = tests[i].name;
        skipped[i].test_func = mqota_fixtures_skip_test;
    }
    int failed = _cmocka_run_group_tests(name, skipped, n, NULL, NULL);
    free(skipped);
    return mqota_fixtures_exit(failed);
}

#define mqota_fixtures_run_group(name, tests, group_setup, group_teardown)              \
    mqota_fixtures_run_group_n(name, tests, sizeof(tests) / sizeof((tests)[0]), group_setup, \
                               group_teardown)

#endif /* MQOTA_TEST_FIXTURES_H */
