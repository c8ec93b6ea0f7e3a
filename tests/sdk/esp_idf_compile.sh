#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# sdk.esp_idf_compile: compile libmqota's core, the ESP-IDF port (ports/esp-idf) and its example for the
# ESP32-C3 with -Wall -Wextra -Werror against the ESP-IDF master headers of the SDK kit
# (../shared/sdk/esp-idf, its README section 1), through the kit's check-compile.sh. A compile
# check, not a build: nothing is linked and nothing runs (docs/ESP-IDF.md says what that leaves
# unproved). Exit 77 (skipped) with a sentence when the kit or the cross compiler is absent.
#   tests/sdk/esp_idf_compile.sh [REPO_ROOT]
set -euo pipefail
ROOT=$(cd "${1:-$(dirname "${BASH_SOURCE[0]}")/../..}" && pwd)
KIT_CHECK=../shared/sdk/esp-idf/check-compile.sh   # relative to the repository root
cd "$ROOT"
if [ ! -x "$KIT_CHECK" ]; then
    echo "SKIP: the ESP-IDF SDK kit is absent ($ROOT/$KIT_CHECK not found): nothing to compile against" >&2
    exit 77
fi
if ! command -v "${CC:-riscv64-unknown-elf-gcc}" >/dev/null 2>&1; then
    echo "SKIP: the RISC-V cross compiler riscv64-unknown-elf-gcc is absent (scripts/install-deps installs gcc-riscv64-unknown-elf and picolibc-riscv64-unknown-elf)" >&2
    exit 77
fi

# The component's Kconfig defaults stand in for what menuconfig writes into sdkconfig.h (the
# kit's sdkconfig.h knows nothing of mqota): one -DCONFIG_MQOTA_X=default per option.
kconfig_defines() {
    awk '
        $1 == "config" { name = $2; type = ""; next }
        $1 == "int" || $1 == "string" || $1 == "bool" { if (name != "") type = $1; next }
        $1 == "default" && name != "" {
            v = $2
            if (type == "bool") { if (v == "y") printf "-DCONFIG_%s=1\n", name }
            else printf "-DCONFIG_%s=%s\n", name, v
            name = ""
        }' "$@"
}
DEFS=$(kconfig_defines ports/esp-idf/Kconfig | tr '\n' ' ')
EXAMPLE=ports/esp-idf/examples/hello_mqota
EXDEFS=$(kconfig_defines "$EXAMPLE/main/Kconfig.projbuild" | tr '\n' ' ')
[ -n "$DEFS" ] || { echo "FAIL: no defaults found in ports/esp-idf/Kconfig" >&2; exit 1; }

INC="-Iports/esp-idf/include -Idevice/include -Iports/esp-idf/src"
rc=0
# expect_call CFLAGS HEADER SYMBOL FILE WHEN: FILE, compiled with CFLAGS, calls SYMBOL (declared
# in HEADER): with SYMBOL poisoned after HEADER it must not compile, and for that reason only;
# else the branch a pass was meant to check was left out and that pass checked nothing
expect_call() {
    local flags=$1 header=$2 symbol=$3 file=$4 when=$5 ptmp
    ptmp=$(mktemp -d)
    printf '#include "%s"\n#pragma GCC poison %s\n' "$header" "$symbol" >"$ptmp/poison.h"
    if EXTRA_CFLAGS="$flags -include $ptmp/poison.h" "$KIT_CHECK" "$file" >"$ptmp/out" 2>&1; then
        echo "FAIL: $when $file does not call $symbol()" >&2
        rc=1
    elif ! grep -q "poisoned" "$ptmp/out"; then
        echo "FAIL: the $symbol probe of $file failed for another reason:" >&2
        cat "$ptmp/out" >&2
        rc=1
    else
        echo "OK   $file calls $symbol() $when"
    fi
    rm -rf "$ptmp"
}
# The Kconfig defaults in mqota_esp_kconfig.h (for an sdkconfig.h made without this component)
# are the Kconfig file's, option for option.
HDR_DEFS=$(sed -nE 's/^#define (CONFIG_MQOTA_[A-Z0-9_]+) (.*)$/-D\1=\2/p' \
    ports/esp-idf/include/mqota_esp_kconfig.h | sort)
if [ "$HDR_DEFS" != "$(echo "$DEFS" | tr ' ' '\n' | grep . | sort)" ]; then
    echo "FAIL: ports/esp-idf/include/mqota_esp_kconfig.h and ports/esp-idf/Kconfig disagree on the defaults:" >&2
    diff <(echo "$HDR_DEFS") <(echo "$DEFS" | tr ' ' '\n' | grep . | sort) >&2 || true
    rc=1
fi
# the port with only its own include directory, against the kit's sdkconfig.h, which knows no
# CONFIG_MQOTA_* (as an IDE or a prepared SDK compiles it)
EXTRA_CFLAGS="-Iports/esp-idf/include" "$KIT_CHECK" ports/esp-idf/src/*.c || rc=1
# the core and the port, as the component builds them (ESP-IDF master has esp_ota_resume)
EXTRA_CFLAGS="$INC $DEFS" "$KIT_CHECK" device/src/*.c ports/esp-idf/src/*.c || rc=1
# the example, as menuconfig leaves it and with the broker's CA embedded
EXTRA_CFLAGS="$INC $DEFS $EXDEFS" "$KIT_CHECK" "$EXAMPLE"/main/*.c || rc=1
EXTRA_CFLAGS="$INC $DEFS $EXDEFS -DCONFIG_HELLO_BROKER_TLS=1" "$KIT_CHECK" "$EXAMPLE"/main/*.c || rc=1
# the fallbacks for ESP-IDF before 5.5 (no esp_ota_resume(), no esp_ota_mark_app_invalid_rollback())
EXTRA_CFLAGS="$INC $DEFS -DMQOTA_ESP_IDF_BEFORE_5_5" "$KIT_CHECK" ports/esp-idf/src/mqota_esp_glue.c || rc=1
# anti-rollback on: the secure_version hooks on esp_efuse_* (an sdkconfig.h in front of the
# kit's turns the option on)
atmp=$(mktemp -d)
printf '#include_next <sdkconfig.h>\n#define CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK 1\n' >"$atmp/sdkconfig.h"
EXTRA_CFLAGS="-I$atmp $INC $DEFS" "$KIT_CHECK" ports/esp-idf/src/mqota_esp_glue.c || rc=1
rm -rf "$atmp"
# the core dump in flash on: the HEALTH's crash text from esp_core_dump_get_panic_reason()
# (an sdkconfig.h in front of the kit's, whose core dump is off, turns it on as menuconfig does)
ctmp=$(mktemp -d)
printf '%s\n' '#include_next <sdkconfig.h>' '#undef CONFIG_ESP_COREDUMP_ENABLE_TO_NONE' \
    '#define CONFIG_ESP_COREDUMP_ENABLE_TO_FLASH 1' '#define CONFIG_ESP_COREDUMP_ENABLE 1' \
    '#define CONFIG_ESP_COREDUMP_DATA_FORMAT_ELF 1' \
    '#define CONFIG_ESP_COREDUMP_SUMMARY_STACKDUMP_SIZE 1024' >"$ctmp/sdkconfig.h"
EXTRA_CFLAGS="-I$ctmp $INC $DEFS" "$KIT_CHECK" ports/esp-idf/src/mqota_esp_glue.c || rc=1
# and that pass did compile the crash text (else the option's branch was left out, nothing
# checked)
expect_call "-I$ctmp $INC $DEFS" esp_core_dump.h esp_core_dump_get_panic_reason \
    ports/esp-idf/src/mqota_esp_glue.c "with the core dump in flash"
rm -rf "$ctmp"
# the decoder of compressed and delta transfers on (CONFIG_MQOTA_INFLATE_WINDOW_BITS 15; the
# default, 0, compiles it out, MQOTA_CFG_DECODE 0): the core's decode stage and delta applier,
# and the hook on the ROM's tinfl_decompress() of esp_rom's miniz.h
IDEFS=$(echo "$DEFS" | sed -E 's/-DCONFIG_MQOTA_INFLATE_WINDOW_BITS=[0-9]+/-DCONFIG_MQOTA_INFLATE_WINDOW_BITS=15/')
EXTRA_CFLAGS="$INC $IDEFS" "$KIT_CHECK" device/src/*.c ports/esp-idf/src/mqota_esp_inflate.c || rc=1
# and that pass did compile the hook and the core's decode stage
expect_call "$INC $IDEFS" miniz.h tinfl_decompress ports/esp-idf/src/mqota_esp_inflate.c \
    "with CONFIG_MQOTA_INFLATE_WINDOW_BITS 15"
expect_call "$INC $IDEFS" mqota/mqota_delta.h mqota_delta_begin device/src/mqota_decode.c \
    "with CONFIG_MQOTA_INFLATE_WINDOW_BITS 15 (MQOTA_CFG_DECODE 1)"
# the port refuses a build without rollback support, with a sentence naming the option: an
# sdkconfig.h in front of the kit's takes the option away
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf '#include_next <sdkconfig.h>\n#undef CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE\n' >"$tmp/sdkconfig.h"
if EXTRA_CFLAGS="-I$tmp $INC $DEFS" "$KIT_CHECK" ports/esp-idf/src/mqota_esp_glue.c \
    >"$tmp/out" 2>&1; then
    echo "FAIL: the port compiled without CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE" >&2; rc=1
elif ! grep -q "needs CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE" "$tmp/out"; then
    echo "FAIL: without rollback support the build failed for another reason:" >&2
    cat "$tmp/out" >&2; rc=1
else
    echo "OK   ports/esp-idf/src/mqota_esp_glue.c refuses CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE off"
fi
exit $rc
