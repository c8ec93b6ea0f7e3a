/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_status.c - text for status codes, update states and failure reasons.
 *
 * State and reason names are the exact strings the server, the CLI and docs/PROTOCOL.md use;
 * they are part of the interface, so change them only together with those.
 */
#include <stddef.h>

#include "mqota/mqota_config_defaults.h"
#include "mqota/mqota_status.h"
#include "mqota_names.h"

/*
 * Each list is one string of NUL-terminated names in enum order, found by counting NULs: a
 * table of pointers would cost 4 bytes of flash per name and the sparse switch a 412-byte jump
 * table on the ESP32-C3 (bench/footprint), for lookups that run once per STATE or log line.
 */

/* Indexed by mqota_update_state_t; the enum is numbered densely from 0. */
#define STATE_COUNT 10u
static const char state_names[] =
    "idle\0"            /* MQOTA_STATE_IDLE */
    "offered\0"         /* MQOTA_STATE_OFFERED */
    "downloading\0"     /* MQOTA_STATE_DOWNLOADING */
    "verifying\0"       /* MQOTA_STATE_VERIFYING */
    "ready-to-reboot\0" /* MQOTA_STATE_READY_TO_REBOOT */
    "pending-verify\0"  /* MQOTA_STATE_PENDING_VERIFY */
    "confirmed\0"       /* MQOTA_STATE_CONFIRMED */
    "failed\0"          /* MQOTA_STATE_FAILED */
    "rolled-back\0"     /* MQOTA_STATE_ROLLED_BACK */
    "held";             /* MQOTA_STATE_HELD */

/* Indexed by mqota_reason_t; the enum is numbered densely from 0. */
#define REASON_COUNT 22u
static const char reason_names[] =
    "none\0"             /* MQOTA_REASON_NONE */
    "chip-mismatch\0"    /* MQOTA_REASON_CHIP_MISMATCH */
    "too-large\0"        /* MQOTA_REASON_TOO_LARGE */
    "bad-chunk-size\0"   /* MQOTA_REASON_BAD_CHUNK_SIZE */
    "flash\0"            /* MQOTA_REASON_FLASH */
    "hash-mismatch\0"    /* MQOTA_REASON_HASH_MISMATCH */
    "invalid-image\0"    /* MQOTA_REASON_INVALID_IMAGE */
    "set-boot\0"         /* MQOTA_REASON_SET_BOOT */
    "self-test\0"        /* MQOTA_REASON_SELF_TEST */
    "confirm-timeout\0"  /* MQOTA_REASON_CONFIRM_TIMEOUT */
    "reset\0"            /* MQOTA_REASON_RESET */
    "too-many-chunks\0"  /* MQOTA_REASON_TOO_MANY_CHUNKS */
    "store\0"            /* MQOTA_REASON_STORE */
    "malformed-offer\0"  /* MQOTA_REASON_MALFORMED_OFFER */
    "signature\0"        /* MQOTA_REASON_SIGNATURE */
    "unsigned\0"         /* MQOTA_REASON_UNSIGNED */
    "security-version\0" /* MQOTA_REASON_SECURITY_VERSION */
    "command\0"          /* MQOTA_REASON_COMMAND */
    "file-release\0"     /* MQOTA_REASON_FILE_RELEASE */
    "decode\0"           /* MQOTA_REASON_DECODE */
    "bad-encoding\0"     /* MQOTA_REASON_BAD_ENCODING */
    "base-mismatch";     /* MQOTA_REASON_BASE_MISMATCH */

#if MQOTA_CFG_STATUS_TEXT
/* The errors 0..MQOTA_ERR_CONFIG, then the "keep going" results from MQOTA_IGNORED on. */
#define ERROR_COUNT 17u
#define KEEP_GOING_COUNT 3u
static const char status_texts[] =
    "success\0"                               /* MQOTA_OK */
    "invalid argument\0"                      /* MQOTA_ERR_ARG */
    "malformed message\0"                     /* MQOTA_ERR_MALFORMED */
    "unsupported protocol version\0"          /* MQOTA_ERR_VERSION */
    "unexpected message type\0"               /* MQOTA_ERR_TYPE */
    "output buffer too small\0"               /* MQOTA_ERR_NO_SPACE */
    "CRC-32 mismatch\0"                       /* MQOTA_ERR_CRC */
    "not allowed in the current state\0"      /* MQOTA_ERR_STATE */
    "platform hook failed\0"                  /* MQOTA_ERR_PLATFORM */
    "value out of range\0"                    /* MQOTA_ERR_RANGE */
    "invalid ESP32 application image\0"       /* MQOTA_ERR_IMAGE */
    "key not found in the persistent store\0" /* MQOTA_ERR_NOT_FOUND */
    "input ended too early\0"                 /* MQOTA_ERR_TRUNCATED */
    "SHA-256 mismatch\0"                      /* MQOTA_ERR_HASH */
    "authentication failed\0"                 /* MQOTA_ERR_AUTH */
    "replayed message\0"                      /* MQOTA_ERR_REPLAY */
    "application and libmqota built with different MQOTA_* sizes\0" /* MQOTA_ERR_CONFIG */
    "ignored (not for this agent, or stale)\0" /* MQOTA_IGNORED */
    "duplicate chunk\0"                       /* MQOTA_DUPLICATE */
    "more input needed";                      /* MQOTA_MORE */
#endif

/* The i-th name of a packed list of `count` (mqota_names.h), or `unknown` for an index beyond
 * it (compared as unsigned by the callers, so a negative value from a cast is unknown too). */
const char *status__name_at(const char *list, unsigned count, unsigned i, const char *unknown)
{
    if (i >= count) {
        return unknown;
    }
    for (; i > 0u; i--) {
        while (*list++ != '\0') {
        }
    }
    return list;
}

/*
 * The codes are sparse (errors from 0, "keep going" results from MQOTA_IGNORED), so the
 * second run is moved down to follow the first. Values that arrive as plain integers (from the
 * wire, from a cast) and match no code get "unknown status".
 */
const char *mqota_strerror(mqota_status_t status)
{
#if !MQOTA_CFG_STATUS_TEXT
    (void)status;
    return "mqota status (texts left out: MQOTA_CFG_STATUS_TEXT)";
#else
    unsigned i = (unsigned)status;
    if (i >= ERROR_COUNT) {
        i = i >= (unsigned)MQOTA_IGNORED && i - (unsigned)MQOTA_IGNORED < KEEP_GOING_COUNT
                ? i - (unsigned)MQOTA_IGNORED + ERROR_COUNT
                : ~0u;
    }
    return status__name_at(status_texts, ERROR_COUNT + KEEP_GOING_COUNT, i, "unknown status");
#endif
}

const char *mqota_state_name(mqota_update_state_t state)
{
    return status__name_at(state_names, STATE_COUNT, (unsigned)state, "unknown");
}

const char *mqota_reason_name(mqota_reason_t reason)
{
    return status__name_at(reason_names, REASON_COUNT, (unsigned)reason, "unknown");
}
