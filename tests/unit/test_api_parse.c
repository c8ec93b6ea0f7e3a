/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_api_parse.c - the body parsers of the HTTP API (server/api_parse.c): the bodies the CLI
 * and docs/API.md send, every refusal with its sentence, the release ids the fuzz targets
 * found converted to int64_t out of range (1e104, 3.3e100: undefined behaviour before the
 * range check), replayed here as plain cases, and the strictness of api_parse__json() every
 * body goes through (issue 9 item 6): trailing bytes, \u0000 and numbers past 2^53 - 1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api_parse.h"

static int parse(const char *body, api_deployment_body_t *b, char *err, size_t cap)
{
    err[0] = '\0';
    return api_parse__deployment((const uint8_t *)body, strlen(body), b, err, cap);
}

static void test_cli_bodies(void **state)
{
    api_deployment_body_t b;
    char err[512];
    (void)state;
    assert_int_equal(parse("{\"release\":2,\"devices\":[\"vdev-0001\",\"vdev-0002\"]}", &b, err,
                           sizeof err), 0);
    assert_int_equal(b.release_id, 2);
    assert_false(b.all);
    assert_int_equal(b.n_devices, 2);
    assert_string_equal(b.devices[0], "vdev-0001");
    assert_string_equal(b.devices[1], "vdev-0002");
    assert_null(b.filter);
    api_parse__deployment_free(&b);
    assert_null(b.json);
    assert_int_equal(parse("{\"release\":3,\"filter\":\"group=lab state=idle\"}", &b, err,
                           sizeof err), 0);
    assert_int_equal(b.release_id, 3);
    assert_false(b.all);
    assert_null(b.devices);
    assert_string_equal(b.filter, "group=lab state=idle");
    api_parse__deployment_free(&b);

    assert_int_equal(parse("{\"release\": 7, \"all\": true}", &b, err, sizeof err), 0);
    assert_int_equal(b.release_id, 7);
    assert_true(b.all);
    assert_int_equal(b.n_devices, 0);
    assert_null(b.devices);
    api_parse__deployment_free(&b);

    /* "all": false with devices is a device list; 2^53 - 1 (the largest integer below which
     * a JSON number holds every integer exactly) is an id */
    assert_int_equal(parse("{\"release\": 9007199254740991, \"all\": false, \"devices\": [\"a\"]}",
                           &b, err, sizeof err), 0);
    assert_int_equal(b.release_id, 9007199254740991LL);
    assert_false(b.all);
    api_parse__deployment_free(&b);
}

/* "activate" in a deployment body, and the POST .../activate body (docs/API.md "Deployments"). */
static void test_activate(void **state)
{
    api_deployment_body_t b;
    char err[512];
    (void)state;
    assert_int_equal(parse("{\"release\": 2, \"all\": true}", &b, err, sizeof err), 0);
    assert_false(b.hold);
    api_parse__deployment_free(&b);
    assert_int_equal(parse("{\"release\": 2, \"all\": true, \"activate\": \"hold\"}", &b, err,
                           sizeof err), 0);
    assert_true(b.hold);
    api_parse__deployment_free(&b);
    assert_int_equal(parse("{\"release\": 2, \"all\": true, \"activate\": \"now\"}", &b, err,
                           sizeof err), 0);
    assert_false(b.hold);
    api_parse__deployment_free(&b);
    static const char *const bad_activate[] = {"\"later\"", "\"HOLD\"", "true", "1", "null"};
    for (size_t i = 0; i < sizeof bad_activate / sizeof bad_activate[0]; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"release\": 2, \"all\": true, \"activate\": %s}",
                 bad_activate[i]);
        assert_int_equal(parse(body, &b, err, sizeof err), 400);
        assert_string_equal(err, "\"activate\" must be \"now\" (devices reboot into the release "
                                 "once it is verified) or \"hold\" (they hold it until "
                                 "activated)");
        assert_null(b.json);
    }

    /* the activate body: empty or {} takes every held target, or a list of devices */
    assert_int_equal(api_parse__activate(NULL, 0, &b, err, sizeof err), 0);
    assert_int_equal(b.n_devices, 0);
    api_parse__deployment_free(&b);
    assert_int_equal(api_parse__activate((const uint8_t *)"{}", 2, &b, err, sizeof err), 0);
    assert_int_equal(b.n_devices, 0);
    api_parse__deployment_free(&b);
    const char *two = "{\"devices\": [\"vdev-0001\", \"vdev-0002\"]}";
    assert_int_equal(api_parse__activate((const uint8_t *)two, strlen(two), &b, err, sizeof err),
                     0);
    assert_int_equal(b.n_devices, 2);
    assert_string_equal(b.devices[1], "vdev-0002");
    api_parse__deployment_free(&b);
    static const struct {
        const char *body, *why;
    } bad[] = {
        {"{\"devices\": []}", "\"devices\" must be a non-empty array of device ids; leave it out "
                              "to activate every held target"},
        {"{\"devices\": \"vdev-0001\"}", "\"devices\" must be a non-empty array of device ids; "
                                         "leave it out to activate every held target"},
        {"{\"devices\": [\"\"]}", "\"devices\" must hold device ids (non-empty strings)"},
        {"{\"devices\": [7]}", "\"devices\" must hold device ids (non-empty strings)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(api_parse__activate((const uint8_t *)bad[i].body, strlen(bad[i].body),
                                             &b, err, sizeof err),
                         400);
        assert_string_equal(err, bad[i].why);
        assert_null(b.json);
    }
    assert_int_equal(api_parse__activate((const uint8_t *)"[1]", 3, &b, err, sizeof err), 400);
    assert_non_null(strstr(err, "{\"devices\": [\"vdev-0001\"]}"));
}

static void refused(const char *body, int status, const char *why)
{
    api_deployment_body_t b;
    char err[512];
    assert_int_equal(parse(body, &b, err, sizeof err), status);
    assert_string_equal(err, why);
    assert_null(b.json);
    assert_null(b.devices);
    api_parse__deployment_free(&b); /* a zeroed struct is safe to free */
}

static void test_refusals(void **state)
{
    static const char not_object[] = "the body must be a JSON object like {\"release\": 2, "
                                     "\"devices\": [\"vdev-0001\"]} or {\"release\": 2, "
                                     "\"all\": true}";
    static const char bad_release[] = "\"release\" must be a release id (a positive integer)";
    (void)state;
    refused("", 400, not_object);
    refused("not json", 400, not_object);
    refused("[1, 2]", 400, not_object);
    refused("{\"release\": 1", 400, not_object);
    refused("{\"devices\": [\"a\"]}", 400, bad_release);
    refused("{\"release\": \"1\", \"all\": true}", 400, bad_release);
    refused("{\"release\": 0, \"all\": true}", 400, bad_release);
    refused("{\"release\": -3, \"all\": true}", 400, bad_release);
    refused("{\"release\": 1.5, \"all\": true}", 400,
            "\"release\" is 1.5, which is not a whole number");
    /* out of int64_t's range: found by fuzz_deploy_body / fuzz_api as UBSan reports */
    refused("{\"release\":333333333333333333333333333333333333333333333333333333333333333333"
            "3333333333333333333333333333333333333332,\"all\":true}", 400,
            "\"release\" is 333333333333333333333333..., beyond 9007199254740991 (2^53 - 1), the "
            "largest whole number a JSON number holds exactly");
    refused("{\"release\": 1e104, \"devices\": [\"a\"]}", 400,
            "\"release\" is 1e104, beyond 9007199254740991 (2^53 - 1), the largest whole number "
            "a JSON number holds exactly");
    refused("{\"release\": 9007199254740994, \"all\": true}", 400,
            "\"release\" is 9007199254740994, beyond 9007199254740991 (2^53 - 1), the largest "
            "whole number a JSON number holds exactly");
    refused("{\"release\": 1e999, \"all\": true}", 400,
            "\"release\" is 1e999, beyond 9007199254740991 (2^53 - 1), the largest whole number "
            "a JSON number holds exactly");
    refused("{\"release\": 1, \"all\": 1}", 400, "\"all\" must be true or false");
    refused("{\"release\": 1, \"devices\": [\"a\"], \"all\": true}", 400,
            "give either \"devices\" or \"all\": true, not both");
    refused("{\"release\": 1}", 400,
            "name the devices with \"devices\": [...], select them with \"filter\": \"...\" "
            "or use \"all\": true");
    refused("{\"release\": 1, \"all\": false}", 400,
            "name the devices with \"devices\": [...], select them with \"filter\": \"...\" "
            "or use \"all\": true");
    refused("{\"release\": 1, \"filter\": \"group=lab\", \"all\": true}", 400,
            "give one of \"devices\", \"all\": true and \"filter\", not two");
    refused("{\"release\": 1, \"filter\": \"group=lab\", \"devices\": [\"a\"]}", 400,
            "give one of \"devices\", \"all\": true and \"filter\", not two");
    refused("{\"release\": 1, \"filter\": \"\"}", 400,
            "\"filter\" must be a filter expression such as \"group=lab\" (docs/API.md "
            "\"Filters\")");
    refused("{\"release\": 1, \"filter\": 3}", 400,
            "\"filter\" must be a filter expression such as \"group=lab\" (docs/API.md "
            "\"Filters\")");
    refused("{\"release\": 1, \"devices\": \"vdev-0001\"}", 400,
            "\"devices\" must be an array of device ids");
    refused("{\"release\": 1, \"devices\": []}", 400,
            "\"devices\" is empty; name at least one device");
    refused("{\"release\": 1, \"devices\": [\"a\", 2]}", 400,
            "\"devices\" must hold device ids (non-empty strings)");
    refused("{\"release\": 1, \"devices\": [\"\"]}", 400,
            "\"devices\" must hold device ids (non-empty strings)");
}

static int parse_n(const char *body, size_t len, api_deployment_body_t *b, char *err, size_t cap)
{
    err[0] = '\0';
    return api_parse__deployment((const uint8_t *)body, len, b, err, cap);
}

/* What cJSON alone let through (issue 9 item 6): each refused with 400 and one sentence. */
static void test_strict(void **state)
{
    api_deployment_body_t b;
    api_provision_body_t p;
    char err[512];
    (void)state;
    /* trailing garbage after the object; whitespace is fine */
    refused("{\"release\": 1, \"all\": true} trailing", 400,
            "8 bytes follow the JSON object (from byte 28); send the object alone");
    refused("{\"release\": 1, \"all\": true}{}", 400,
            "2 bytes follow the JSON object (from byte 27); send the object alone");
    assert_int_equal(parse("{\"release\": 1, \"all\": true} \r\n\t ", &b, err, sizeof err), 0);
    api_parse__deployment_free(&b);
    /* a NUL byte after the object: cJSON stops there, the rest is still refused */
    assert_int_equal(parse_n("{\"release\": 1, \"all\": true}\0{}", 30, &b, err, sizeof err),
                     400);
    assert_string_equal(err, "3 bytes follow the JSON object (from byte 27); send "
                             "the object alone");
    /* \u0000 would cut "vdev-0001\u0000x" to "vdev-0001" */
    refused("{\"release\": 1, \"devices\": [\"vdev-0001\\u0000x\"]}", 400,
            "\"devices\" holds a string with \\u0000 (a NUL character), which no id or name may "
            "contain");
    refused("{\"release\": 1, \"all\": true, \"x\\u0000y\": 1}", 400,
            "a member name holds \\u0000 (a NUL character), which no name may contain");
    /* a raw NUL byte inside a string cuts it the same way */
    assert_int_equal(parse_n("{\"release\": 1, \"devices\": [\"a\0b\"]}", 34, &b, err,
                             sizeof err), 400);
    assert_string_equal(err, "\"devices\" holds a string with \\u0000 (a NUL character), which "
                             "no id or name may contain");
    /* an escaped backslash before "u0000" is text, not a NUL */
    assert_int_equal(parse("{\"release\": 1, \"devices\": [\"a\\\\u0000\"]}", &b, err,
                           sizeof err), 0);
    assert_string_equal(b.devices[0], "a\\u0000");
    api_parse__deployment_free(&b);
    /* 2^53 + 1 reads as 2^53 in a double: refused, and so is 2^53 */
    refused("{\"release\": 9007199254740993, \"all\": true}", 400,
            "\"release\" is 9007199254740993, beyond 9007199254740991 (2^53 - 1), the largest "
            "whole number a JSON number holds exactly");
    refused("{\"release\": 9007199254740992, \"all\": true}", 400,
            "\"release\" is 9007199254740992, beyond 9007199254740991 (2^53 - 1), the largest "
            "whole number a JSON number holds exactly");
    refused("{\"release\": 9.007199254740993e15, \"all\": true}", 400,
            "\"release\" is 9.007199254740993e15, beyond 9007199254740991 (2^53 - 1), the "
            "largest whole number a JSON number holds exactly");
    refused("{\"release\": 25e-1, \"all\": true}", 400,
            "\"release\" is 25e-1, which is not a whole number");
    refused("{\"release\": 0.000000000000000000000000000000000000000000000000000000000000000000001,"
            " \"all\": true}", 400,
            "\"release\" is 0.0000000000000000000000..., which is not a whole number");
    refused("{\"release\": 1.00000000000000000000000000000000000000000000000000000000000000000001,"
            " \"all\": true}", 400,
            "\"release\" is 1.0000000000000000000000..., which is not a whole number");
    /* whole numbers however written: what cJSON itself prints for 10^15 (1e+15), 2.0, 20e-1 */
    static const char *const whole[] = {"1e+15", "2.0", "20e-1", "9007199254740991",
                                        "9.007199254740991e15", "0.3e1"};
    static const int64_t value[] = {1000000000000000LL, 2, 2, 9007199254740991LL,
                                    9007199254740991LL, 3};
    for (size_t k = 0; k < sizeof(whole) / sizeof(whole[0]); k++) {
        char body[96];
        snprintf(body, sizeof body, "{\"release\": %s, \"all\": true}", whole[k]);
        assert_int_equal(parse(body, &b, err, sizeof err), 0);
        assert_int_equal(b.release_id, value[k]);
        api_parse__deployment_free(&b);
    }
    /* the provisioning body goes through the same helper; "replace" is a boolean */
    static const char good[] = "{\"devices\": [\"good-1\\u0000/#\"]}";
    assert_int_equal(api_parse__provision((const uint8_t *)good, strlen(good), 10, &p, err,
                                          sizeof err), 400);
    assert_string_equal(err, "\"devices\" holds a string with \\u0000 (a NUL character), which "
                             "no id or name may contain");
    assert_null(p.json);
    static const char rep[] = "{\"devices\": [\"a\"], \"replace\": true}";
    assert_int_equal(api_parse__provision((const uint8_t *)rep, strlen(rep), 10, &p, err,
                                          sizeof err), 0);
    assert_true(p.replace);
    api_parse__provision_free(&p);
    static const char norep[] = "{\"devices\": [\"a\"]}";
    assert_int_equal(api_parse__provision((const uint8_t *)norep, strlen(norep), 10, &p, err,
                                          sizeof err), 0);
    assert_false(p.replace);
    api_parse__provision_free(&p);
    static const char badrep[] = "{\"devices\": [\"a\"], \"replace\": 1}";
    assert_int_equal(api_parse__provision((const uint8_t *)badrep, strlen(badrep), 10, &p, err,
                                          sizeof err), 400);
    assert_string_equal(err, "\"replace\" must be true or false");
}

/* The body need not be NUL-terminated: only len bytes are read. */
static void test_length_bounded(void **state)
{
    api_deployment_body_t b;
    char err[512];
    static const char text[] = "{\"release\":3,\"all\":true}GARBAGE";
    (void)state;
    assert_int_equal(api_parse__deployment((const uint8_t *)text, strlen(text) - 7, &b, err,
                                           sizeof err), 0);
    assert_int_equal(b.release_id, 3);
    api_parse__deployment_free(&b);
    assert_int_equal(api_parse__deployment(NULL, 0, &b, err, sizeof err), 400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_bodies),
        cmocka_unit_test(test_activate),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_strict),
        cmocka_unit_test(test_length_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
