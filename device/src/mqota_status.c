/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_status.c - text for status codes, update states and failure reasons.
 *
 * State and reason names are the exact strings the server, the CLI and docs/PROTOCOL.md use;
 * they are part of the interface, so change them only together with those.
 */
#include <stddef.h>

#include "mqota/mqota_status.h"

/* Indexed by mqota_update_state_t; the enum is numbered densely from 0. */
static const char *const state_names[] = {
    "idle",            /* MQOTA_STATE_IDLE */
    "offered",         /* MQOTA_STATE_OFFERED */
    "downloading",     /* MQOTA_STATE_DOWNLOADING */
    "verifying",       /* MQOTA_STATE_VERIFYING */
    "ready-to-reboot", /* MQOTA_STATE_READY_TO_REBOOT */
    "pending-verify",  /* MQOTA_STATE_PENDING_VERIFY */
    "confirmed",       /* MQOTA_STATE_CONFIRMED */
    "failed",          /* MQOTA_STATE_FAILED */
    "rolled-back",     /* MQOTA_STATE_ROLLED_BACK */
};

/* Indexed by mqota_reason_t; the enum is numbered densely from 0. */
static const char *const reason_names[] = {
    "none",            /* MQOTA_REASON_NONE */
    "chip-mismatch",   /* MQOTA_REASON_CHIP_MISMATCH */
    "too-large",       /* MQOTA_REASON_TOO_LARGE */
    "bad-chunk-size",  /* MQOTA_REASON_BAD_CHUNK_SIZE */
    "flash",           /* MQOTA_REASON_FLASH */
    "hash-mismatch",   /* MQOTA_REASON_HASH_MISMATCH */
    "invalid-image",   /* MQOTA_REASON_INVALID_IMAGE */
    "set-boot",        /* MQOTA_REASON_SET_BOOT */
    "self-test",       /* MQOTA_REASON_SELF_TEST */
    "confirm-timeout", /* MQOTA_REASON_CONFIRM_TIMEOUT */
    "reset",           /* MQOTA_REASON_RESET */
    "too-many-chunks", /* MQOTA_REASON_TOO_MANY_CHUNKS */
    "store",           /* MQOTA_REASON_STORE */
    "malformed-offer", /* MQOTA_REASON_MALFORMED_OFFER */
    "signature",       /* MQOTA_REASON_SIGNATURE */
    "unsigned",        /* MQOTA_REASON_UNSIGNED */
    "security-version", /* MQOTA_REASON_SECURITY_VERSION */
    "command",         /* MQOTA_REASON_COMMAND */
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The codes are sparse (errors 1..99, "keep going" results from 100), so this is a switch
 * rather than a table. Values that arrive as plain integers (from the wire, from a cast) and
 * match no code get "unknown status".
 */
const char *mqota_strerror(mqota_status_t status)
{
    switch (status) {
    case MQOTA_OK: return "success";
    case MQOTA_ERR_ARG: return "invalid argument";
    case MQOTA_ERR_MALFORMED: return "malformed message";
    case MQOTA_ERR_AUTH: return "authentication failed";
    case MQOTA_ERR_REPLAY: return "replayed message";
    case MQOTA_ERR_VERSION: return "unsupported protocol version";
    case MQOTA_ERR_TYPE: return "unexpected message type";
    case MQOTA_ERR_NO_SPACE: return "output buffer too small";
    case MQOTA_ERR_CRC: return "CRC-32 mismatch";
    case MQOTA_ERR_STATE: return "not allowed in the current state";
    case MQOTA_ERR_PLATFORM: return "platform hook failed";
    case MQOTA_ERR_RANGE: return "value out of range";
    case MQOTA_ERR_IMAGE: return "invalid ESP32 application image";
    case MQOTA_ERR_NOT_FOUND: return "key not found in the persistent store";
    case MQOTA_ERR_TRUNCATED: return "input ended too early";
    case MQOTA_ERR_HASH: return "SHA-256 mismatch";
    case MQOTA_ERR_CONFIG: return "application and libmqota built with different MQOTA_* sizes";
    case MQOTA_IGNORED: return "ignored (not for this agent, or stale)";
    case MQOTA_DUPLICATE: return "duplicate chunk";
    case MQOTA_MORE: return "more input needed";
    }
    return "unknown status";
}

const char *mqota_state_name(mqota_update_state_t state)
{
    /* Compare as unsigned so that a negative value from a cast is "unknown" too. */
    if ((unsigned)state >= COUNT_OF(state_names)) {
        return "unknown";
    }
    return state_names[state];
}

const char *mqota_reason_name(mqota_reason_t reason)
{
    if ((unsigned)reason >= COUNT_OF(reason_names)) {
        return "unknown";
    }
    return reason_names[reason];
}
