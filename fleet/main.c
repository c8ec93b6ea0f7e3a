/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota-fleet: run N virtual ESP32 devices against an MQTT broker.
 *
 *   mqota-fleet --broker mqtt://127.0.0.1:1883 --count 20 --image hello.bin --data ./fleet
 *
 * The main loop is one epoll_wait over every device's socket (and, with --link, the link
 * emulator's sockets), then the named steps: socket I/O, agent work for devices that received
 * something, link deliveries and cuts, timers (every 100 ms), status line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fleet.h"
#include "legacy.h"
#include "port_esp.h"
#include "mqota_posix/sigverify.h"
#include "mqota_posix/vdev.h"
#include "mqota/mqota_image.h"

#define TICK_MS 100u
#define MAX_EVENTS 256

static volatile sig_atomic_t run = 1;

static void on_signal(int sig)
{
    (void)sig;
    run = 0;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mqota-fleet --broker URL --image FILE --data DIR [options]\n"
            "\n"
            "Runs virtual ESP32 devices, each with a file-backed 4 MiB flash (partition table,\n"
            "otadata, ota_0, ota_1, nvs) in DIR, a bootloader that validates images like the\n"
            "ESP32's, and the mqota device agent, all on one event loop.\n"
            "\n"
            "options:\n"
            "  --broker URL          broker, mqtt://host:port or mqtts://host:port (required)\n"
            "  --ca FILE             CA certificate the mqtts:// broker's certificate must chain\n"
            "                        to (required with mqtts://; the host name is checked)\n"
            "  --cert-dir DIR        client certificates: DIR/<id>.crt and DIR/<id>.key, used by\n"
            "                        the devices that have both (optional)\n"
            "  --credentials-dir DIR broker username and password of each device from\n"
            "                        DIR/<id>.cred ('mqotad device provision --out-dir DIR');\n"
            "                        devices without one connect anonymously; a device whose\n"
            "                        file has a command_key takes sealed commands (reboot,\n"
            "                        diagnostics, confirm, rollback, and the virtual app's\n"
            "                        'relay on|off'; docs/PROTOCOL.md section 14)\n"
            "  --confirm-by-command  a new image waits in pending-verify for the server's\n"
            "                        'confirm' or 'rollback' command (needs a command_key)\n"
            "  --image FILE          image flashed into ota_0 of devices created now (required\n"
            "                        unless every flash file in DIR exists already)\n"
            "  --data DIR            directory of the flash files (required; created if absent)\n"
            "  --count N             number of devices (default 20)\n"
            "  --prefix P            device id prefix (default vdev-); ids are P0001, P0002, ...\n"
            "  --chip NAME           esp32, esp32s2, esp32s3, esp32c3 ... (default esp32) of\n"
            "                        devices created now; a device's chip id, revision and base\n"
            "                        MAC are burnt once into DIR/<id>.flash.efuse, its eFuse\n"
            "  --erase-nvs ID        erase the NVS partition of device ID's flash before it\n"
            "                        powers on (like esptool.py erase_region): it boots with\n"
            "                        the same chip and image, its agent's records gone\n"
            "  --max-chunk BYTES     largest chunk the agent accepts (default 4096)\n"
            "  --window N            chunks in flight the agent accepts, 1-64 (default 16)\n"
            "  --mqtt-version V      5 or 311 (default 5)\n"
            "  --cut-at PCT          fault: drop each device's link once when its download\n"
            "                        of a release passes PCT percent (repeatable, up to 8)\n"
            "  --fail-self-test VER  fault: images whose version is VER fail their self-test\n"
            "  --reset-before-confirm VER\n"
            "                        fault: a device that boots an image whose version is VER\n"
            "                        in pending-verify resets (watchdog, brown-out) on its first\n"
            "                        connection, before the agent confirms, once per such boot;\n"
            "                        the bootloader then rolls back (reason reset)\n"
            "  --crash-loop VER      fault: a device running VER after confirming it resets by\n"
            "                        panic --crash-every S seconds after each connection\n"
            "                        (its health reports reset reason panic and the crash)\n"
            "  --crash-every S       seconds from connect to the panic of --crash-loop\n"
            "                        (default 3)\n"
            "  --health-interval S   seconds between the agents' health reports (default: the\n"
            "                        agent's, 300); one is also sent after every connection\n"
            "  --offline-after-reboot VER\n"
            "                        fault: a device that boots an image whose version is VER\n"
            "                        in pending-verify cannot reach the broker; the agent's\n"
            "                        confirm timeout rolls it back (reason confirm-timeout)\n"
            "  --confirm-timeout MS  how long a new image in pending-verify may go without\n"
            "                        reaching the broker before the agent rolls it back,\n"
            "                        100-86400000 ms (default 60000)\n"
            "  --crash-at PCT        fault: the whole process dies (SIGKILL) when a device's\n"
            "                        download passes PCT percent\n"
            "  --deflate-window BITS largest deflate window the agents inflate, 9-15: they\n"
            "                        announce MQOTA_CAP_DEFLATE and may get compressed images\n"
            "                        (docs/PROTOCOL.md §6.1); default 0: no decoder, full\n"
            "                        images (esp-idf devices: the port's Kconfig decides)\n"
            "  --flip-byte OFFSET    fault: flash writes store byte OFFSET of an image with one\n"
            "                        bit flipped (a flash bit error the chunk CRC cannot see)\n"
            "  --link SPEC           emulate the devices' links through a user-space proxy:\n"
            "                        a profile (lan, wifi, lte, gprs, gprs-flaky) or a mix\n"
            "                        in percent of the devices, e.g. lte:30,gprs:70 (default\n"
            "                        lan: direct to the broker); see docs/LINKS.md\n"
            "  --trust-key PUB.pem   release public key (from 'mqota key generate'): signed\n"
            "                        offers are verified against it before anything is erased\n"
            "  --require-signature   refuse unsigned offers (needs --trust-key); see\n"
            "                        docs/SECURITY.md\n"
            "  --port PORT           the agent code the devices run: posix (the agent on the\n"
            "                        POSIX port's hooks, default) or esp-idf (the ESP-IDF\n"
            "                        port itself, ports/esp-idf, on the host emulation of\n"
            "                        ESP-IDF in tests/emu/esp-idf; esp32 devices only)\n"
            "  --protocol P          b64, md5, pull or tcp: what a device booting an image of\n"
            "                        project 'legacy' speaks; 'legacy-b64', 'legacy-md5',\n"
            "                        'legacy-pull', 'legacy-tcp' speak theirs,\n"
            "                        any other image runs the agent (docs/LEGACY.md)\n"
            "  --b64-key FILE        protocol 1's fleet command key (lines key=<64 hex>,\n"
            "                        iv=<32 hex>); without it commands are refused\n"
            "  --legacy-corrupt N    fault: chunk N of a legacy download arrives with a flipped\n"
            "                        bit, once per boot\n"
            "  --pull-url URL        protocol 3 (pull): mqotad's pull listener, https://HOST:PORT\n"
            "  --pull-ca FILE        the CA its certificate must chain to\n"
            "  --pull-user U, --pull-password P  the basic-auth login the devices poll with\n"
            "  --poll-every S        seconds between polls (default 30; decimals allowed)\n"
            "  --tcp-announce ADDR   fault: protocol 4 devices announce ADDR (A.B.C.D[:PORT])\n"
            "                        instead of the address they listen on\n"
            "  --telemetry-interval S  every S seconds each posix-port device publishes\n"
            "                        telemetry through the agent (temperature from a\n"
            "                        deterministic pseudo-sensor, uptime_s); default 0 = off\n"
            "  --status-interval S   print a status line every S seconds (default 5, 0 = off)\n"
            "  --exit-after S        stop after S seconds (default: run until SIGINT/SIGTERM)\n"
            "  --log-level L         error, warn, info, debug (default info)\n"
            "  --help                this text\n"
            "\n"
            "example:\n"
            "  mqota-fleet --broker mqtt://127.0.0.1:1883 --count 20 \\\n"
            "      --image idf_hello_world_esp32_2023.bin --data /tmp/fleet\n"
            "  mqota-fleet --broker mqtt://127.0.0.1:1883 --count 100 --link lte:30,gprs:70 \\\n"
            "      --image idf_hello_world_esp32_2023.bin --data /tmp/fleet\n");
}

static int parse_chip(const char *s, uint16_t *out)
{
    static const struct { const char *name; uint16_t id; } chips[] = {
        {"esp32", MQOTA_CHIP_ESP32},     {"esp32s2", MQOTA_CHIP_ESP32S2},
        {"esp32c3", MQOTA_CHIP_ESP32C3}, {"esp32s3", MQOTA_CHIP_ESP32S3},
        {"esp32c2", MQOTA_CHIP_ESP32C2}, {"esp32c6", MQOTA_CHIP_ESP32C6},
        {"esp32h2", MQOTA_CHIP_ESP32H2}, {"esp32p4", MQOTA_CHIP_ESP32P4},
    };
    for (size_t i = 0; i < sizeof(chips) / sizeof(chips[0]); i++) {
        if (strcasecmp(s, chips[i].name) == 0) {
            *out = chips[i].id;
            return 0;
        }
    }
    return -1;
}

static int parse_long(const char *flag, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "mqota-fleet: %s '%s' is not a whole number in %ld..%ld\n", flag, s, lo,
                hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* An image version a fault option matches (esp_app_desc_t.version as the agent reads it,
 * at most 31 characters). Returns s, or exits with status 2 and a reason. */
static const char *parse_version(const char *flag, const char *s)
{
    size_t cap = sizeof(((mqota_running_t *)0)->version) - 1u;
    if (s[0] == '\0' || strlen(s) > cap) {
        fprintf(stderr, "mqota-fleet: %s '%s' must be an image version of 1..%zu characters "
                        "(esp_app_desc_t.version, as 'mqota device list' shows it)\n",
                flag, s, cap);
        exit(2);
    }
    return s;
}

/* Parse --link SPEC ("lte" or "lte:30,gprs:70") into profiles and percent shares.
 * Returns how many, or exits with status 2 and a reason. */
static int parse_link_spec(const char *spec, const link_profile_t **prof, int *share)
{
    char buf[256];
    int n = 0, total = 0;
    if (snprintf(buf, sizeof(buf), "%s", spec) >= (int)sizeof(buf)) goto bad;
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(item, ':');
        long pct = 100;
        if (colon) {
            *colon = '\0';
            if (parse_long("--link share", colon + 1, 1, 100, &pct)) exit(2);
        } else if (strchr(spec, ',')) {
            goto bad; /* a mix must give every share */
        }
        if (n == FLEET_LINK_MAX) goto bad;
        if ((prof[n] = link_profile_find(item)) == NULL) {
            fprintf(stderr, "mqota-fleet: --link: '%s' is not a profile (lan, wifi, lte, gprs, "
                            "gprs-flaky)\n", item);
            exit(2);
        }
        share[n++] = (int)pct;
        total += (int)pct;
    }
    if (n > 0 && total == 100) return n;
bad:
    fprintf(stderr, "mqota-fleet: --link '%s' must be a profile or a mix like lte:30,gprs:70 "
                    "whose shares add up to 100\n", spec);
    exit(2);
}

/* Parse the command line into o. Returns 0, or exits with status 2 on a usage error. */
static void parse_args(int argc, char **argv, fleet_opts_t *o)
{
    enum { O_BROKER = 1, O_IMAGE, O_DATA, O_COUNT, O_PREFIX, O_CHIP, O_CHUNK, O_WINDOW, O_MQTTV,
           O_CUT, O_FAILST, O_STATUS, O_TELEMETRY, O_EXIT, O_LOG, O_HELP, O_CRASH, O_FLIP, O_LINK,
           O_TRUST, O_REQSIG, O_CA, O_CERTDIR, O_CREDDIR, O_RESETBC, O_OFFLINE, O_CONFIRMTO,
           O_CRASHLOOP, O_CRASHEVERY, O_HEALTHINT,
           O_CONFIRMCMD, O_ERASENVS, O_PORT, O_PROTOCOL, O_B64KEY, O_LCORRUPT, O_DEFLATE,
           O_PULLURL, O_PULLCA, O_PULLUSER, O_PULLPASS, O_POLLEVERY, O_TCPANN };
    static const struct option opts[] = {
        {"broker", required_argument, 0, O_BROKER}, {"image", required_argument, 0, O_IMAGE},
        {"data", required_argument, 0, O_DATA},     {"count", required_argument, 0, O_COUNT},
        {"prefix", required_argument, 0, O_PREFIX}, {"chip", required_argument, 0, O_CHIP},
        {"max-chunk", required_argument, 0, O_CHUNK}, {"window", required_argument, 0, O_WINDOW},
        {"mqtt-version", required_argument, 0, O_MQTTV}, {"cut-at", required_argument, 0, O_CUT},
        {"fail-self-test", required_argument, 0, O_FAILST},
        {"reset-before-confirm", required_argument, 0, O_RESETBC},
        {"crash-loop", required_argument, 0, O_CRASHLOOP},
        {"crash-every", required_argument, 0, O_CRASHEVERY},
        {"health-interval", required_argument, 0, O_HEALTHINT},
        {"offline-after-reboot", required_argument, 0, O_OFFLINE},
        {"confirm-timeout", required_argument, 0, O_CONFIRMTO},
        {"crash-at", required_argument, 0, O_CRASH}, {"flip-byte", required_argument, 0, O_FLIP},
        {"status-interval", required_argument, 0, O_STATUS},
        {"telemetry-interval", required_argument, 0, O_TELEMETRY},
        {"exit-after", required_argument, 0, O_EXIT}, {"log-level", required_argument, 0, O_LOG},
        {"link", required_argument, 0, O_LINK},
        {"trust-key", required_argument, 0, O_TRUST},
        {"require-signature", no_argument, 0, O_REQSIG},
        {"ca", required_argument, 0, O_CA}, {"cert-dir", required_argument, 0, O_CERTDIR},
        {"credentials-dir", required_argument, 0, O_CREDDIR},
        {"confirm-by-command", no_argument, 0, O_CONFIRMCMD},
        {"erase-nvs", required_argument, 0, O_ERASENVS},
        {"port", required_argument, 0, O_PORT},
        {"protocol", required_argument, 0, O_PROTOCOL}, {"b64-key", required_argument, 0, O_B64KEY},
        {"legacy-corrupt", required_argument, 0, O_LCORRUPT},
        {"deflate-window", required_argument, 0, O_DEFLATE},
        {"pull-url", required_argument, 0, O_PULLURL}, {"pull-ca", required_argument, 0, O_PULLCA},
        {"pull-user", required_argument, 0, O_PULLUSER},
        {"pull-password", required_argument, 0, O_PULLPASS},
        {"poll-every", required_argument, 0, O_POLLEVERY},
        {"tcp-announce", required_argument, 0, O_TCPANN},
        {"help", no_argument, 0, O_HELP}, {0, 0, 0, 0},
    };
    long v;
    int c;
    int level = MQH_INFO;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_BROKER: o->broker_url = optarg; break;
        case O_IMAGE: o->image = optarg; break;
        case O_DATA: o->data_dir = optarg; break;
        case O_COUNT:
            if (parse_long("--count", optarg, 1, 100000, &v)) exit(2);
            o->count = (int)v;
            break;
        case O_PREFIX: o->prefix = optarg; break;
        case O_CHIP:
            if (parse_chip(optarg, &o->chip_id)) {
                fprintf(stderr, "mqota-fleet: --chip '%s' is not a known chip (esp32, esp32s2, "
                                "esp32s3, esp32c3, esp32c2, esp32c6, esp32h2, esp32p4)\n", optarg);
                exit(2);
            }
            break;
        case O_CHUNK:
            if (parse_long("--max-chunk", optarg, MQOTA_CHUNK_MIN, MQOTA_CHUNK_MAX, &v)) exit(2);
            if (v & (v - 1)) {
                fprintf(stderr, "mqota-fleet: --max-chunk %ld is not a power of two\n", v);
                exit(2);
            }
            o->max_chunk = (uint32_t)v;
            break;
        case O_WINDOW:
            if (parse_long("--window", optarg, 1, MQOTA_SACK_BITS, &v)) exit(2);
            o->max_window = (uint16_t)v;
            break;
        case O_MQTTV:
            if (strcmp(optarg, "5") == 0) o->mqtt_version = 5;
            else if (strcmp(optarg, "311") == 0 || strcmp(optarg, "3.1.1") == 0) o->mqtt_version = 311;
            else {
                fprintf(stderr, "mqota-fleet: --mqtt-version '%s' must be 5 or 311\n", optarg);
                exit(2);
            }
            break;
        case O_CUT:
            if (parse_long("--cut-at", optarg, 1, 99, &v)) exit(2);
            if (o->cut_count >= 8) {
                fprintf(stderr, "mqota-fleet: at most 8 --cut-at points\n");
                exit(2);
            }
            o->cut_at[o->cut_count++] = (double)v / 100.0;
            break;
        case O_FAILST: o->fail_self_test = parse_version("--fail-self-test", optarg); break;
        case O_RESETBC:
            o->reset_before_confirm = parse_version("--reset-before-confirm", optarg);
            break;
        case O_OFFLINE:
            o->offline_after_reboot = parse_version("--offline-after-reboot", optarg);
            break;
        case O_CONFIRMTO:
            if (parse_long("--confirm-timeout", optarg, 100, 86400000, &v)) exit(2);
            o->confirm_timeout_ms = (uint32_t)v;
            break;
        case O_TRUST: o->trust_key = optarg; break;
        case O_REQSIG: o->require_signature = true; break;
        case O_CA: o->ca_file = optarg; break;
        case O_CERTDIR: o->cert_dir = optarg; break;
        case O_CREDDIR: o->credentials_dir = optarg; break;
        case O_CONFIRMCMD: o->confirm_by_command = true; break;
        case O_ERASENVS: o->erase_nvs = optarg; break;
        case O_PROTOCOL: {
            fleet_proto_t p;
            if (fleet_legacy_parse(optarg, &p) != 0 || fleet_legacy_ops(p) == NULL) {
                fprintf(stderr, "mqota-fleet: --protocol '%s' must be b64, md5, pull or tcp\n",
                        optarg);
                exit(2);
            }
            o->protocol = (int)p;
            break;
        }
        case O_B64KEY:
            o->b64_key = optarg;
            break;
        case O_LCORRUPT:
            if (parse_long("--legacy-corrupt", optarg, 1, 1000000, &v)) exit(2);
            o->legacy_corrupt = v;
            break;
        case O_PULLURL: o->pull_url = optarg; break;
        case O_PULLCA: o->pull_ca = optarg; break;
        case O_PULLUSER: o->pull_user = optarg; break;
        case O_PULLPASS: o->pull_password = optarg; break;
        case O_TCPANN: o->tcp_announce = optarg; break;
        case O_POLLEVERY: {
            char *end;
            double s = strtod(optarg, &end);
            if (*optarg == '\0' || *end != '\0' || !(s >= 0.05 && s <= 3600)) {
                fprintf(stderr, "mqota-fleet: --poll-every '%s' must be seconds from 0.05 to "
                        "3600\n", optarg);
                exit(2);
            }
            o->poll_every_ms = (uint32_t)(s * 1000.0);
            break;
        }
        case O_PORT:
            if (strcmp(optarg, "posix") == 0) o->port = FLEET_PORT_POSIX;
            else if (strcmp(optarg, "esp-idf") == 0) o->port = FLEET_PORT_ESP_IDF;
            else {
                fprintf(stderr, "mqota-fleet: --port '%s' must be posix or esp-idf\n", optarg);
                exit(2);
            }
            break;
        case O_LINK: {
            const link_profile_t *prof[FLEET_LINK_MAX];
            int share[FLEET_LINK_MAX];
            parse_link_spec(optarg, prof, share); /* exits on a bad spec */
            o->link_spec = optarg;
            break;
        }
        case O_CRASH:
            if (parse_long("--crash-at", optarg, 1, 99, &v)) exit(2);
            o->crash_at = (double)v / 100.0;
            break;
        case O_FLIP:
            if (parse_long("--flip-byte", optarg, 0, 0x1E0000 - 1, &v)) exit(2);
            o->flip_offset = v;
            break;
        case O_DEFLATE:
            if (parse_long("--deflate-window", optarg, 0, MQOTA_WINDOW_BITS_MAX, &v)) exit(2);
            if (v != 0 && v < (long)MQOTA_WINDOW_BITS_MIN) {
                fprintf(stderr, "mqota-fleet: --deflate-window must be 0 or %u-%u\n",
                        MQOTA_WINDOW_BITS_MIN, MQOTA_WINDOW_BITS_MAX);
                exit(2);
            }
            o->deflate_window = (uint8_t)v;
            break;
        case O_CRASHLOOP: o->crash_loop = parse_version("--crash-loop", optarg); break;
        case O_CRASHEVERY:
            if (parse_long("--crash-every", optarg, 1, 86400, &v)) exit(2);
            o->crash_every_s = (int)v;
            break;
        case O_HEALTHINT:
            if (parse_long("--health-interval", optarg, 1, 86400, &v)) exit(2);
            o->health_interval_s = (int)v;
            break;
        case O_TELEMETRY:
            if (parse_long("--telemetry-interval", optarg, 0, 86400, &v)) exit(2);
            o->telemetry_interval_s = (int)v;
            break;
        case O_STATUS:
            if (parse_long("--status-interval", optarg, 0, 3600, &v)) exit(2);
            o->status_interval_s = (int)v;
            break;
        case O_EXIT:
            if (parse_long("--exit-after", optarg, 0, 86400 * 7, &v)) exit(2);
            o->exit_after_s = (int)v;
            break;
        case O_LOG:
            if (!strcmp(optarg, "error")) level = MQH_ERROR;
            else if (!strcmp(optarg, "warn")) level = MQH_WARN;
            else if (!strcmp(optarg, "info")) level = MQH_INFO;
            else if (!strcmp(optarg, "debug")) level = MQH_DEBUG;
            else {
                fprintf(stderr, "mqota-fleet: --log-level '%s' must be error, warn, info or debug\n",
                        optarg);
                exit(2);
            }
            break;
        case O_HELP: usage(stdout); exit(0);
        default:
            fprintf(stderr, "mqota-fleet: unknown option or missing value '%s'; see 'mqota-fleet --help'\n",
                    argv[optind - 1]);
            exit(2);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mqota-fleet: unexpected argument '%s'; see 'mqota-fleet --help'\n",
                argv[optind]);
        exit(2);
    }
    mqh_log_init("mqota-fleet", level);
    char err[256];
    if (!o->broker_url || !o->data_dir) {
        fprintf(stderr, "mqota-fleet: --broker and --data are required; see 'mqota-fleet --help'\n");
        exit(2);
    }
    if (mqh_parse_broker_url(o->broker_url, &o->broker, err, sizeof(err)) != 0) {
        fprintf(stderr, "mqota-fleet: --broker: %s\n", err);
        exit(2);
    }
    if (o->broker.tls && (o->ca_file == NULL || access(o->ca_file, R_OK) != 0)) {
        fprintf(stderr, "mqota-fleet: --broker %s needs --ca FILE, a readable CA certificate "
                        "(the system's CA store is not used)\n", o->broker_url);
        exit(2);
    }
    if (!o->broker.tls && (o->ca_file || o->cert_dir)) {
        fprintf(stderr, "mqota-fleet: --ca and --cert-dir need an mqtts:// --broker\n");
        exit(2);
    }
    if (o->require_signature && o->trust_key == NULL) {
        fprintf(stderr, "mqota-fleet: --require-signature needs --trust-key PUB.pem to verify "
                        "with; see 'mqota-fleet --help'\n");
        exit(2);
    }
    if (o->reset_before_confirm && o->offline_after_reboot &&
        strcmp(o->reset_before_confirm, o->offline_after_reboot) == 0) {
        fprintf(stderr, "mqota-fleet: --reset-before-confirm and --offline-after-reboot both name "
                        "'%s'; a device that cannot connect never reaches the reset: give one\n",
                o->offline_after_reboot);
        exit(2);
    }
    if (o->port == FLEET_PORT_ESP_IDF && o->chip_id != MQOTA_CHIP_ESP32) {
        fprintf(stderr, "mqota-fleet: --port esp-idf runs the ESP-IDF port built for the esp32 "
                        "(tests/emu/esp-idf/include/sdkconfig.h); it cannot run with --chip "
                        "other than esp32\n");
        exit(2);
    }
    if (o->prefix[0] == '\0' || strlen(o->prefix) + 6 > MQOTA_DEVICE_ID_MAX) {
        fprintf(stderr, "mqota-fleet: --prefix '%s' must be 1..%u characters\n", o->prefix,
                MQOTA_DEVICE_ID_MAX - 6);
        exit(2);
    }
}

/* Create one emulated link per profile in --link (none for lan) and give every device its
 * link, deterministically by index: each device goes to the profile furthest behind its
 * share, so any prefix of the fleet is mixed like the whole. Returns 0 or -1. */
static int setup_links(fleet_t *f)
{
    const link_profile_t *prof[FLEET_LINK_MAX];
    int share[FLEET_LINK_MAX], port[FLEET_LINK_MAX], given[FLEET_LINK_MAX] = {0};
    int n = parse_link_spec(f->opt.link_spec, prof, share);
    for (int k = 0; k < n; k++) {
        port[k] = 0;
        if (link_profile_is_direct(prof[k])) continue;
        link_listener_t *l = link_listen(f->epfd, prof[k], f->opt.broker.host, f->opt.broker.port,
                                         (uint64_t)getpid() * 1000003u + (uint64_t)k);
        if (l == NULL) return -1;
        f->links[f->link_count++] = l;
        port[k] = link_listener_port(l);
    }
    for (int i = 0; i < f->opt.count; i++) {
        int best = 0;
        double best_deficit = -1e9;
        for (int k = 0; k < n; k++) {
            double deficit = (double)share[k] * (i + 1) / 100.0 - given[k];
            if (deficit > best_deficit) {
                best_deficit = deficit;
                best = k;
            }
        }
        given[best]++;
        f->devs[i].link_port = port[best];
    }
    for (int k = 0; k < n; k++) {
        if (port[k]) mqh_log(MQH_INFO, "link %s: %d devices, through 127.0.0.1:%d",
                             prof[k]->name, given[k], port[k]);
        else mqh_log(MQH_INFO, "link %s: %d devices, direct", prof[k]->name, given[k]);
    }
    return 0;
}

/* One status line: how many devices are in each connection and update state; the same as
 * JSON in DATA/fleet-status.json (written atomically) for scripts and tests. */
static void print_status(const fleet_t *f)
{
    int conn = 0, bricked = 0;
    int per_state[MQOTA_STATE_HELD + 1] = {0}; /* every mqota_update_state_t */
    uint64_t rx = 0, wire_rx = 0, wire_tx = 0;
    uint32_t drops = 0, reboots = 0, fault_resets = 0, fault_offline = 0, fault_panics = 0;
    uint64_t link_cuts = 0;
    for (int k = 0; k < f->link_count; k++) {
        link_stats_t st;
        link_listener_stats(f->links[k], &st);
        link_cuts += st.cuts;
    }
    for (int i = 0; i < f->opt.count; i++) {
        const fleet_dev_t *d = &f->devs[i];
        uint64_t r, t;
        dev_wire_bytes(d, &r, &t);
        wire_rx += r;
        wire_tx += t;
        drops += d->drops;
        reboots += d->reboots;
        fault_resets += d->fault_resets;
        fault_offline += d->fault_offline_boots;
        fault_panics += d->fault_panics;
        conn += d->conn == DEV_CONNECTED;
        bricked += d->conn == DEV_BRICKED;
        int st = mqota_agent_state(dev_agent(d));
        if (st >= 0 && st <= MQOTA_STATE_HELD) per_state[st]++;
        rx += d->rx_chunk_bytes;
    }
    char line[512];
    int n = snprintf(line, sizeof(line), "devices %d, connected %d", f->opt.count, conn);
    for (int s = 0; s <= MQOTA_STATE_HELD; s++)
        if (per_state[s])
            n += snprintf(line + n, sizeof(line) - (size_t)n, ", %s %d",
                          mqota_state_name((mqota_update_state_t)s), per_state[s]);
    if (bricked) n += snprintf(line + n, sizeof(line) - (size_t)n, ", BRICKED %d", bricked);
    n += snprintf(line + n, sizeof(line) - (size_t)n, ", chunk bytes %llu, wire rx %llu tx %llu",
                  (unsigned long long)rx, (unsigned long long)wire_rx, (unsigned long long)wire_tx);
    if (f->link_count)
        n += snprintf(line + n, sizeof(line) - (size_t)n, ", link cuts %llu",
                      (unsigned long long)link_cuts);
    if (f->opt.reset_before_confirm)
        n += snprintf(line + n, sizeof(line) - (size_t)n, ", resets before confirm (fault) %u",
                      fault_resets);
    if (f->opt.offline_after_reboot)
        n += snprintf(line + n, sizeof(line) - (size_t)n, ", boots kept offline (fault) %u",
                      fault_offline);
    if (f->opt.crash_loop && n > 0 && (size_t)n < sizeof(line))
        snprintf(line + n, sizeof(line) - (size_t)n, ", panics (fault) %u", fault_panics);
    mqh_log(MQH_INFO, "%s", line);

    char path[600], tmp[610];
    snprintf(path, sizeof(path), "%s/fleet-status.json", f->opt.data_dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (out == NULL) return;
    fprintf(out, "{\"devices\": %d, \"connected\": %d, \"bricked\": %d, \"states\": {",
            f->opt.count, conn, bricked);
    for (int s = 0, first = 1; s <= MQOTA_STATE_HELD; s++) {
        if (!per_state[s]) continue;
        fprintf(out, "%s\"%s\": %d", first ? "" : ", ", mqota_state_name((mqota_update_state_t)s),
                per_state[s]);
        first = 0;
    }
    fprintf(out, "}, \"chunk_bytes\": %llu, \"wire_rx_bytes\": %llu, \"wire_tx_bytes\": %llu, "
                 "\"link_drops\": %u, \"reboots\": %u, \"link_cuts\": %llu, "
                 "\"fault_resets\": %u, \"fault_offline_boots\": %u, \"fault_panics\": %u}\n",
            (unsigned long long)rx, (unsigned long long)wire_rx, (unsigned long long)wire_tx,
            drops, reboots, (unsigned long long)link_cuts, fault_resets, fault_offline,
            fault_panics);
    if (fclose(out) == 0) rename(tmp, path);
}

int main(int argc, char **argv)
{
    fleet_t f;
    memset(&f, 0, sizeof(f));
    f.opt.count = 20;
    f.opt.prefix = "vdev-";
    f.opt.chip_id = MQOTA_CHIP_ESP32;
    f.opt.max_chunk = 4096;
    f.opt.max_window = 16;
    f.opt.mqtt_version = 5;
    f.opt.keepalive_s = 30;
    f.opt.poll_every_ms = 30000; /* esp_https_ota devices poll every half minute or so */
    f.opt.status_interval_s = 5;
    f.opt.boot_delay_ms = 300;
    f.opt.flip_offset = -1;
    f.opt.deflate_window = 0; /* full images, as the fleet's benchmarks have always measured */
    parse_args(argc, argv, &f.opt);

    if (f.opt.trust_key != NULL) {
        char err[512];
        if (sigverify_key_load(f.opt.trust_key, &f.trust_key, err, sizeof(err)) != MQOTA_OK) {
            fprintf(stderr, "mqota-fleet: --trust-key: %s\n", err);
            return 2;
        }
        if (f.opt.port == FLEET_PORT_ESP_IDF && esp_fleet_load_trust_key(f.opt.trust_key) != 0)
            return 2;
        mqh_log(MQH_INFO, "release signatures checked with %s%s", f.opt.trust_key,
                f.opt.require_signature ? "; unsigned offers refused" : "");
    }
    if (mkdir(f.opt.data_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "mqota-fleet: --data: cannot create directory '%s': %s\n", f.opt.data_dir,
                strerror(errno));
        return 2;
    }
    /* Each device holds a socket and a flash file open. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    srand((unsigned)getpid() ^ (unsigned)mqh_now_ms());
    mosquitto_lib_init();

    f.epfd = epoll_create1(EPOLL_CLOEXEC);
    f.devs = calloc((size_t)f.opt.count, sizeof(*f.devs));
    if (f.epfd < 0 || f.devs == NULL) {
        fprintf(stderr, "mqota-fleet: out of resources for %d devices\n", f.opt.count);
        return 1;
    }
    if (f.opt.link_spec && setup_links(&f) != 0) {
        fprintf(stderr, "mqota-fleet: --link: cannot start the link emulator\n");
        return 1;
    }
    if (f.opt.erase_nvs != NULL) {
        char first[64], last[64];
        int hit = 0;
        for (int i = 0; i < f.opt.count && !hit; i++) {
            snprintf(first, sizeof(first), "%s%04d", f.opt.prefix, i + 1);
            hit = strcmp(first, f.opt.erase_nvs) == 0;
        }
        if (!hit) {
            snprintf(first, sizeof(first), "%s%04d", f.opt.prefix, 1);
            snprintf(last, sizeof(last), "%s%04d", f.opt.prefix, f.opt.count);
            fprintf(stderr, "mqota-fleet: --erase-nvs '%s' is not one of this fleet's devices "
                    "(%s .. %s)\n", f.opt.erase_nvs, first, last);
            return 2;
        }
    }
    int up = 0;
    for (int i = 0; i < f.opt.count; i++) {
        fleet_dev_t *d = &f.devs[i];
        d->fleet = &f;
        d->index = i;
        d->fd = -1;
        d->logged_state = -1;
        snprintf(d->id, sizeof(d->id), "%s%04d", f.opt.prefix, i + 1);
        snprintf(d->flash_path, sizeof(d->flash_path), "%s/%s.flash", f.opt.data_dir, d->id);
        if (access(d->flash_path, F_OK) != 0 && f.opt.image == NULL) {
            fprintf(stderr, "mqota-fleet: %s has no flash file yet; give --image to create it\n",
                    d->id);
            return 2;
        }
        if (f.opt.erase_nvs != NULL && strcmp(f.opt.erase_nvs, d->id) == 0 &&
            access(d->flash_path, F_OK) == 0) {
            char err[1024];
            if (vdev_flash_erase_nvs(d->flash_path, err, sizeof(err)) != MQOTA_OK) {
                fprintf(stderr, "mqota-fleet: --erase-nvs %s: %s\n", d->id, err);
                return 1;
            }
            mqh_log(MQH_INFO, "%s: erased the NVS partition of %s (--erase-nvs)", d->id,
                    d->flash_path);
        }
        if (dev_power_on(d) == 0) {
            up++;
            /* spread the first connections over a second */
            d->next_attempt_ms = mqh_now_ms() + (uint64_t)(rand() % 1000);
        } else if (i == 0) {
            fprintf(stderr, "mqota-fleet: the first device did not start; stopping\n");
            return 1;
        }
    }
    mqh_log(MQH_INFO, "%d of %d devices booted; broker %s", up, f.opt.count, f.opt.broker_url);

    f.started_ms = mqh_now_ms();
    uint64_t next_tick = 0, next_status = f.started_ms + (uint64_t)f.opt.status_interval_s * 1000u;
    struct epoll_event evs[MAX_EVENTS];
    while (run) {
        uint64_t now = mqh_now_ms();
        uint64_t wake = link_next_deadline(); /* the next link delivery or cut, or the tick */
        if (next_tick < wake) wake = next_tick;
        int timeout = wake > now ? (int)(wake - now) : 0;
        int n = epoll_wait(f.epfd, evs, MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR) break;

        /* socket I/O, then the agents of the devices that received something */
        for (int i = 0; i < n; i++) {
            fleet_io_t *io = evs[i].data.ptr;
            io->on_events(io, evs[i].events);
        }
        for (int i = 0; i < n; i++) {
            fleet_io_t *io = evs[i].data.ptr;
            if (io->after_events) io->after_events(io);
        }
        link_run_timers(mqh_now_ms()); /* link deliveries and cuts */

        now = mqh_now_ms();
        if (now >= next_tick) { /* timers */
            next_tick = now + TICK_MS;
            for (int i = 0; i < f.opt.count; i++) dev_tick(&f.devs[i]);
        }
        if (f.opt.status_interval_s > 0 && now >= next_status) {
            next_status = now + (uint64_t)f.opt.status_interval_s * 1000u;
            print_status(&f);
        }
        if (f.opt.exit_after_s > 0 && now - f.started_ms >= (uint64_t)f.opt.exit_after_s * 1000u)
            run = 0;
    }
    print_status(&f);
    for (int i = 0; i < f.opt.count; i++) dev_shutdown(&f.devs[i]);
    for (int k = 0; k < f.link_count; k++) link_listener_close(f.links[k]);
    free(f.devs);
    sigverify_key_free(f.trust_key);
    close(f.epfd);
    mosquitto_lib_cleanup();
    return 0;
}
