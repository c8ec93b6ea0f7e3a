/* SPDX-License-Identifier: Apache-2.0 */
/*
 * release.c - accept an uploaded application image as a release.
 *
 * The image is judged with libmqota's streaming checker (the same code the device runs) and
 * its appended SHA-256, so what the server accepts the device will accept too.
 */
#include "release.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "mqota/mqota_image.h"
#include "mqota/mqota_proto.h"
#include "mqota_utf8.h"
#include "release_files.h"
#include "signature.h"
#include "zbest.h"

static int sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
    unsigned int n = 0;
    return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -1;
}

/*
 * Explain a checker fault in one sentence. The wording names the byte, segment or value so
 * the user can see what is wrong with the file.
 */
static void describe_fault(const mqota_image_check_t *chk, const uint8_t *img, size_t len,
                           char *err, size_t cap)
{
    mqota_image_fault_t f = (mqota_image_fault_t)chk->fault;
    switch (f) {
    case MQOTA_IMAGE_FAULT_MAGIC:
        snprintf(err, cap, "image rejected: byte 0 is 0x%02x, not the ESP32 image magic 0xE9",
                 len ? img[0] : 0);
        break;
    case MQOTA_IMAGE_FAULT_SEGMENT_COUNT:
        snprintf(err, cap, "image rejected: segment count is %u, not 1 to %u",
                 len > 1 ? img[1] : 0, MQOTA_IMAGE_MAX_SEGMENTS);
        break;
    case MQOTA_IMAGE_FAULT_SEGMENT_SIZE:
        snprintf(err, cap, "image rejected: segment %u is larger than 16 MiB (header at byte "
                 "%u)", chk->fault_segment, chk->fault_offset);
        break;
    case MQOTA_IMAGE_FAULT_TRUNCATED:
        if (chk->checksum_at == 0)
            snprintf(err, cap, "image rejected: truncated: file ends inside segment %u at byte "
                     "%zu", chk->fault_segment, len);
        else if (len <= chk->checksum_at)
            snprintf(err, cap, "image rejected: truncated: file ends before the checksum byte "
                     "at byte %u", chk->checksum_at);
        else
            snprintf(err, cap, "image rejected: truncated: file ends inside the appended "
                     "SHA-256 at byte %zu", len);
        break;
    case MQOTA_IMAGE_FAULT_CHECKSUM:
        snprintf(err, cap, "image rejected: checksum mismatch (computed 0x%02x, image says "
                 "0x%02x)", chk->computed_checksum, chk->expect_checksum);
        break;
    case MQOTA_IMAGE_FAULT_DESC_MAGIC:
        snprintf(err, cap, "image rejected: no application descriptor at byte %u (magic is "
                 "not 0xABCD5432); is this a bootloader or partition table?",
                 MQOTA_APP_DESC_OFFSET);
        break;
    case MQOTA_IMAGE_FAULT_CHIP:
        snprintf(err, cap, "image rejected: chip id %u is not an ESP32-family chip",
                 len >= 14 ? (unsigned)(img[12] | img[13] << 8) : 0u);
        break;
    case MQOTA_IMAGE_FAULT_TRAILING:
        snprintf(err, cap, "image rejected: unexpected bytes start at offset %u of this "
                 "%zu-byte file, after the image's end at offset %u; only 0xFF padding to a "
                 "4 KiB boundary and a Secure Boot signature block may follow an image, so "
                 "upload its first %u bytes", chk->fault_offset, len, chk->image_len,
                 chk->image_len);
        break;
    default:
        snprintf(err, cap, "image rejected: %s", mqota_image_fault_str(f));
        break;
    }
}

/* Whether an errno means the filesystem has no room left (full, or the user's quota). */
static bool no_space(int e) { return e == ENOSPC || e == EDQUOT; }

/* fsync a directory so a rename or unlink in it survives a power cut; 0 or -1 (errno set). */
static int sync_dir(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return -1;
    int rc = fsync(dfd);
    int e = errno;
    close(dfd);
    errno = e;
    return rc;
}

/*
 * Write data to path atomically: temp file in the same directory, write, fsync, close, rename,
 * fsync dir. 0 on success. On any failure -1 with *err_no the errno of the step that failed
 * (ENOSPC/EDQUOT when the disk is full), and neither the temp file nor path is left behind.
 */
static int store_file(const char *dir, const char *path, const uint8_t *data, size_t len,
                      int *err_no)
{
    char tmp[PATH_MAX + 32];
    bool renamed = false;
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        *err_no = errno;
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) goto err;
        if (w == 0) { /* no progress and no errno: treat as a full disk, as write(2) implies */
            errno = ENOSPC;
            goto err;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) goto err;
    if (close(fd) != 0) {
        fd = -1;
        goto err;
    }
    fd = -1;
    if (rename(tmp, path) != 0) goto err;
    renamed = true;
    if (sync_dir(dir) != 0) goto err;
    return 0;
err:
    *err_no = errno;
    if (fd >= 0) close(fd);
    if (unlink(renamed ? path : tmp) != 0 && errno != ENOENT)
        mqh_log(MQH_ERROR, "cannot remove %s after a failed store: %s", renamed ? path : tmp,
                strerror(errno));
    return -1;
}

/* Check the image's structure and appended hash; 0 if valid, else -1 with err filled. */
static int check_image(const uint8_t *img, size_t len, mqota_image_info_t *info, char *err,
                       size_t cap)
{
    if (len == 0) {
        snprintf(err, cap, "image rejected: the request body is empty; send the image file "
                 "as the body");
        return -1;
    }
    mqota_image_check_t chk;
    uint32_t hashed_len = 0;
    mqota_image_check_init(&chk);
    mqota_status_t st = mqota_image_check_update(&chk, img, len);
    if (st == MQOTA_OK) st = mqota_image_check_finish(&chk, &hashed_len);
    if (st != MQOTA_OK) {
        if (chk.fault == MQOTA_IMAGE_FAULT_NONE)
            snprintf(err, cap, "image rejected: %s", mqota_strerror(st));
        else
            describe_fault(&chk, img, len, err, cap);
        return -1;
    }
    st = mqota_image_parse_head(img, len, info);
    if (st != MQOTA_OK) {
        if (st == MQOTA_ERR_TRUNCATED)
            snprintf(err, cap, "image rejected: truncated: %zu bytes is too short to hold the "
                     "image header and application descriptor (%u bytes)", len,
                     MQOTA_IMAGE_HEAD_LEN);
        else
            snprintf(err, cap, "image rejected: no application descriptor at byte %u (magic "
                     "is not 0xABCD5432); is this a bootloader or partition table?",
                     MQOTA_APP_DESC_OFFSET);
        return -1;
    }
    if (strcmp(mqota_chip_name(info->chip_id), "unknown") == 0) {
        snprintf(err, cap, "image rejected: chip id %u is not an ESP32-family chip",
                 info->chip_id);
        return -1;
    }
    if (hashed_len > 0) {
        uint8_t digest[32];
        if (hashed_len > len || sha256(img, hashed_len, digest) != 0) {
            snprintf(err, cap, "image rejected: cannot compute the SHA-256 of the image");
            return -1;
        }
        if (memcmp(digest, chk.appended_hash, 32) != 0) {
            snprintf(err, cap, "image rejected: appended SHA-256 does not match the image");
            return -1;
        }
    }
    return 0;
}

/* A version or note must be printable text; versions must fit the offer's 31 bytes. */
static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return false;
    return true;
}

/* Offset of the first byte of s that does not start a valid UTF-8 sequence. */
static size_t utf8_bad_at(const char *s)
{
    size_t i = 0, n = strlen(s), k;
    while (i < n && (k = mqh_utf8_seq(s + i, n - i)) != 0) i += k;
    return i;
}

/*
 * Verify the upload's signature (base64 of a .mqsig) when one came, or refuse an unsigned
 * upload under --require-signed. info is the image's descriptor, or NULL for a file bundle,
 * whose .mqsig must sign the bundle's manifest ("MQF1", docs/PROTOCOL.md §5.1 and §17). 0
 * with *signed_ok telling whether sig holds a verified signature; -1 with err filled (HTTP
 * 400).
 */
static int judge_signature(mqotad_t *d, const char *sig_b64, const uint8_t digest[32],
                           size_t len, const mqota_image_info_t *info, signature_t *sig,
                           bool *signed_ok, char *err, size_t err_cap)
{
    *signed_ok = false;
    if (!sig_b64 || !*sig_b64) {
        if (!d->require_signed) return 0;
        snprintf(err, err_cap, "this mqotad accepts only signed releases (--require-signed); %s",
                 info ? "send the .mqsig with the image (mqota release add FILE --signature "
                        "FILE.mqsig, or --sign-key KEY.key.pem)"
                      : "sign the file bundle (mqota release add --files DIR --version V "
                        "--sign-key KEY.key.pem); nothing was stored");
        return -1;
    }
    size_t n = 0;
    uint8_t *text = signature__base64_decode(sig_b64, &n);
    if (!text) {
        snprintf(err, err_cap, "signature rejected: the X-Mqota-Signature header is not "
                 "base64 of a .mqsig file");
        return -1;
    }
    char why[400];
    int rc = info ? signature__verify(d, (const char *)text, n, digest, (uint32_t)len, info, sig,
                                      why, sizeof(why))
                  : signature__verify_files(d, (const char *)text, n, digest, (uint32_t)len,
                                            sig, why, sizeof(why));
    free(text);
    if (rc != 0) {
        snprintf(err, err_cap, "signature rejected: %s; nothing was stored", why);
        return -1;
    }
    *signed_ok = true;
    return 0;
}

/*
 * The parse step of a file release (docs/PROTOCOL.md §17): the bundle parsed and every file
 * hashed (release_files.c), its signature judged as an image's is (a bundle's manifest,
 * §5.1), a version signed or given (a bundle has no descriptor to take one from). On
 * RELEASE_OK out->manifest holds the manifest's JSON (malloc'd). Chip is MQOTA_CHIP_ANY and
 * project "files".
 */
static release_result_t check_files(mqotad_t *d, const uint8_t *b, size_t len,
                                    const char *version, const char *notes, const char *sig_b64,
                                    db_release_t *out, char *err, size_t err_cap)
{
    release_files_t *m = malloc(sizeof(*m));
    release_result_t res = RELEASE_INVALID;
    signature_t sig;
    bool is_signed = false;
    if (!m) {
        snprintf(err, err_cap, "out of memory while reading the file bundle");
        return RELEASE_ERROR;
    }
    if (release_files__parse(b, len, m, err, err_cap) != 0) goto out;
    int vr = release_files__verify(b, m, err, err_cap);
    if (vr != 0) {
        if (vr == -2) res = RELEASE_ERROR;
        goto out;
    }
    uint8_t digest[32];
    if (sha256(b, len, digest) != 0) {
        snprintf(err, err_cap, "cannot compute the SHA-256 of the upload");
        res = RELEASE_ERROR;
        goto out;
    }
    if (judge_signature(d, sig_b64, digest, len, NULL, &sig, &is_signed, err, err_cap) != 0)
        goto out;
    if (version && !*version) version = NULL;
    if (is_signed) {
        /* The signed manifest decides the version the OFFER carries, as for an image. */
        if (version && strcmp(version, sig.manifest.version) != 0) {
            snprintf(err, err_cap, "?version=%.40s differs from the signed manifest's version "
                     "'%s'; leave it out or sign that version", version, sig.manifest.version);
            goto out;
        }
        version = sig.manifest.version;
    }
    if (!version || !*version) {
        snprintf(err, err_cap, "a file release needs a version: give it with ?version= "
                 "(mqota release add --files DIR --version V)");
        goto out;
    }
    if (strlen(version) > MQOTA_STR_MAX || !printable(version) ||
        !mqh_utf8_valid(version, strlen(version))) {
        snprintf(err, err_cap, "version '%.40s' must be printable UTF-8 text of at most %u "
                 "bytes", version, MQOTA_STR_MAX);
        goto out;
    }
    if (!notes) notes = "";
    if (strlen(notes) >= sizeof(out->notes) || !mqh_utf8_valid(notes, strlen(notes))) {
        snprintf(err, err_cap, "notes must be UTF-8 text shorter than %zu bytes",
                 sizeof(out->notes));
        goto out;
    }
    if (!(out->manifest = release_files__manifest_json(m))) {
        snprintf(err, err_cap, "out of memory while reading the file bundle");
        res = RELEASE_ERROR;
        goto out;
    }
    mqh_hex(digest, 32, out->sha256);
    snprintf(out->version, sizeof(out->version), "%s", version);
    snprintf(out->project, sizeof(out->project), "files");
    snprintf(out->notes, sizeof(out->notes), "%s", notes);
    out->chip_id = MQOTA_CHIP_ANY;
    if (is_signed) {
        out->has_sig = true;
        memcpy(out->sig, sig.block, sizeof(out->sig));
        snprintf(out->key_id, sizeof(out->key_id), "%s", sig.key_id);
    }
    out->kind = DB_RELEASE_FILES;
    out->file_count = m->count;
    out->size = (uint32_t)len;
    res = RELEASE_OK;
out:
    free(m);
    return res;
}

release_result_t release__check(mqotad_t *d, const uint8_t *image, size_t len,
                                const char *version, const char *notes, const char *sig_b64,
                                db_release_t *out, char *err, size_t err_cap)
{
    mqota_image_info_t info;
    memset(out, 0, sizeof(*out));
    if (release_files__is_bundle(image, len))
        return check_files(d, image, len, version, notes, sig_b64, out, err, err_cap);
    if (len > MQOTAD_MAX_IMAGE) {
        snprintf(err, err_cap, "image rejected: %zu bytes is larger than the largest OTA slot "
                 "(%u bytes)", len, MQOTAD_MAX_IMAGE);
        return RELEASE_INVALID;
    }
    if (check_image(image, len, &info, err, err_cap) != 0) return RELEASE_INVALID;

    uint8_t digest[32];
    if (sha256(image, len, digest) != 0) {
        snprintf(err, err_cap, "cannot compute the SHA-256 of the upload");
        return RELEASE_ERROR;
    }
    signature_t sig;
    bool is_signed = false;
    if (judge_signature(d, sig_b64, digest, len, &info, &sig, &is_signed, err, err_cap) != 0)
        return RELEASE_INVALID;

    if (version && !*version) version = NULL;
    if (is_signed) {
        /* The signed manifest decides the version an OFFER must carry. */
        if (version && strcmp(version, sig.manifest.version) != 0) {
            snprintf(err, err_cap, "?version=%.40s differs from the signed manifest's version "
                     "'%s'; leave it out or sign that version", version, sig.manifest.version);
            return RELEASE_INVALID;
        }
        version = sig.manifest.version;
    }
    if (!version && strcmp(info.project_name, "arduino-lib-builder") == 0) {
        snprintf(err, err_cap, "this is an Arduino build: its descriptor carries the Arduino "
                 "core's version (%s), not the application's; give the release version with "
                 "?version=", info.version);
        return RELEASE_INVALID;
    }
    if (!version) version = info.version;
    if (strlen(version) > MQOTA_STR_MAX || !printable(version)) {
        snprintf(err, err_cap, "version '%.40s' must be printable text of at most %u bytes",
                 version, MQOTA_STR_MAX);
        return RELEASE_INVALID;
    }
    if (!mqh_utf8_valid(version, strlen(version))) {
        snprintf(err, err_cap, "version is not valid UTF-8 (byte %zu); give the version as "
                 "UTF-8 text", utf8_bad_at(version));
        return RELEASE_INVALID;
    }
    if (!notes) notes = "";
    if (strlen(notes) >= sizeof(out->notes)) {
        snprintf(err, err_cap, "notes are longer than %zu bytes", sizeof(out->notes) - 1);
        return RELEASE_INVALID;
    }
    if (!mqh_utf8_valid(notes, strlen(notes))) {
        snprintf(err, err_cap, "notes are not valid UTF-8 (byte %zu); give the notes as UTF-8 "
                 "text", utf8_bad_at(notes));
        return RELEASE_INVALID;
    }
    if (!mqh_utf8_valid(info.project_name, strlen(info.project_name)) ||
        !mqh_utf8_valid(info.idf_ver, strlen(info.idf_ver))) {
        snprintf(err, err_cap, "image rejected: the application descriptor's project_name or "
                 "idf_ver is not valid UTF-8");
        return RELEASE_INVALID;
    }

    mqh_hex(digest, 32, out->sha256);
    snprintf(out->version, sizeof(out->version), "%s", version);
    snprintf(out->descriptor_version, sizeof(out->descriptor_version), "%s", info.version);
    snprintf(out->project, sizeof(out->project), "%s", info.project_name);
    snprintf(out->idf_ver, sizeof(out->idf_ver), "%s", info.idf_ver);
    snprintf(out->notes, sizeof(out->notes), "%s", notes);
    out->chip_id = info.chip_id;
    out->secure_version = is_signed ? sig.manifest.secure_version : info.secure_version;
    if (is_signed) {
        out->has_sig = true;
        memcpy(out->sig, sig.block, sizeof(out->sig));
        snprintf(out->key_id, sizeof(out->key_id), "%s", sig.key_id);
    }
    out->size = (uint32_t)len;
    return RELEASE_OK;
}

release_result_t release__create(mqotad_t *d, const uint8_t *image, size_t len,
                                 const char *version, const char *notes, const char *sig_b64,
                                 db_release_t *out, int64_t *dup_id, char *err, size_t err_cap)
{
    release_result_t res = release__check(d, image, len, version, notes, sig_b64, out, err,
                                          err_cap);
    if (res != RELEASE_OK) return res;

    db_release_t existing;
    int rc = db__release_by_sha(d->db, out->sha256, &existing);
    if (rc == 0) {
        *dup_id = existing.id;
        snprintf(err, err_cap, "this %s is already release %lld (version %s, SHA-256 %.12s...)",
                 out->kind == DB_RELEASE_FILES ? "file bundle" : "image",
                 (long long)existing.id, existing.version, existing.sha256);
        return RELEASE_DUPLICATE;
    }
    if (rc < 0) {
        snprintf(err, err_cap, "database error while looking for duplicate releases");
        return RELEASE_ERROR;
    }
    out->created_at = mqh_unix_now();

    char dir[PATH_MAX];
    int e = 0;
    snprintf(dir, sizeof(dir), "%s/releases", d->data_dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        e = errno;
        snprintf(err, err_cap, "cannot create %s: %s; nothing was stored", dir, strerror(e));
        goto store_err;
    }
    snprintf(out->path, sizeof(out->path), "%s/%s.bin", dir, out->sha256);
    if (store_file(dir, out->path, image, len, &e) != 0) {
        if (no_space(e))
            snprintf(err, err_cap, "the disk holding %s is full (%s) while writing the image "
                     "(%zu bytes); nothing was stored: free space there and upload again", dir,
                     strerror(e), len);
        else
            snprintf(err, err_cap, "cannot store the image in %s: %s; nothing was stored", dir,
                     strerror(e));
        goto store_err;
    }
    /* The row goes in only after the file is durable; if the row fails the file goes. */
    if (db__begin(d->db) != 0 || db__release_insert(d->db, out) != 0 ||
        (out->manifest && db__release_set_manifest(d->db, out->id, out->manifest) != 0) ||
        db__commit(d->db) != 0) {
        bool full = db__disk_full(d->db); /* before the rollback resets SQLite's error */
        db__rollback(d->db);
        if (unlink(out->path) != 0 && errno != ENOENT)
            mqh_log(MQH_ERROR, "cannot remove %s after the failed insert: %s", out->path,
                    strerror(errno));
        else
            (void)sync_dir(dir); /* best effort: the removal is what matters, and it is done */
        if (full) {
            e = ENOSPC;
            snprintf(err, err_cap, "the disk holding the database in %s is full: the release "
                     "row could not be written and the image file was removed; nothing was "
                     "stored: free space there and upload again", d->data_dir);
        } else {
            snprintf(err, err_cap, "database error while storing the release; nothing was "
                     "stored");
        }
        goto store_err;
    }
    if (out->kind == DB_RELEASE_FILES)
        mqh_log(MQH_INFO, "release %lld: file release %s, %u files, %u bytes, sha256 %s, %s%s",
                (long long)out->id, out->version, out->file_count, out->size, out->sha256,
                out->has_sig ? "signed by key " : "unsigned", out->key_id);
    else
        mqh_log(MQH_INFO, "release %lld: %s %s for %s, %u bytes, sha256 %s, %s%s",
                (long long)out->id, out->project, out->version, mqota_chip_name(out->chip_id),
                out->size, out->sha256, out->has_sig ? "signed by key " : "unsigned",
                out->key_id);
    return RELEASE_OK;
store_err:
    mqh_log(MQH_ERROR, "upload of %s %s refused: %s", out->project, out->version, err);
    return no_space(e) ? RELEASE_NO_SPACE : RELEASE_ERROR;
}

/* "<64 lowercase hex>.bin": the name release__create() gives an image. */
static bool image_name(const char *name, char sha[65])
{
    size_t n = strlen(name);
    if (n != 68 || strcmp(name + 64, ".bin") != 0) return false;
    for (size_t i = 0; i < 64; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
            return false;
    memcpy(sha, name, 64);
    sha[64] = '\0';
    return true;
}

int release__sweep(mqotad_t *d)
{
    char dir[PATH_MAX], path[PATH_MAX + 300], sha[65];
    snprintf(dir, sizeof(dir), "%s/releases", d->data_dir);
    DIR *dh = opendir(dir);
    if (!dh) {
        mqh_log(MQH_ERROR, "cannot read %s to sweep it: %s", dir, strerror(errno));
        return -1;
    }
    int removed = 0, ret = 0;
    struct dirent *e;
    while ((e = readdir(dh)) != NULL) {
        const char *why = NULL;
        if (strstr(e->d_name, ".bin.tmp.") != NULL) {
            why = "a temporary file of an interrupted upload";
        } else if (image_name(e->d_name, sha)) {
            db_release_t r;
            int rc = db__release_by_sha(d->db, sha, &r);
            if (rc < 0) {
                ret = -1;
                break;
            }
            if (rc == 1) why = "an image with no release (its upload was never committed)";
        }
        if (!why) continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (unlink(path) == 0) {
            removed++;
            mqh_log(MQH_WARN, "removed %s: %s", path, why);
        } else {
            mqh_log(MQH_ERROR, "cannot remove %s (%s): %s", path, why, strerror(errno));
        }
    }
    closedir(dh);
    if (removed > 0) (void)sync_dir(dir);
    return ret < 0 ? -1 : removed;
}

/* ---- compressed forms (docs/PROTOCOL.md §6.1) ---- */

/* The cache file of a form: magic "MQZ1", FORM_VERSION, encoding, window_bits, 0, then u32
 * chunk_size, chunk_count, image_size, the chunk_count + 1 offsets, the data, and a CRC-32 of
 * every byte before it. All little-endian. Version 1 was one stream cut by flushes; version 2
 * (zbest.h) compresses each chunk alone, so a version 1 file is built again. */
#define FORM_MAGIC "MQZ1"
#define FORM_VERSION 2u
#define FORM_HEAD 20u

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void release__form_free(release_form_t *f)
{
    if (!f) return;
    /* a release's own form keeps its offsets in an array of their own; a delta form
     * (delta_form.c) keeps them at the start of its one allocation, file */
    if ((void *)f->off != (void *)f->file) free(f->off);
    free(f->file);
    memset(f, 0, sizeof(*f));
}

/* Fill the summary fields of f from its offsets. */
static void form_summary(release_form_t *f)
{
    f->wire_size = f->off[f->chunk_count];
    f->max_chunk = 0;
    for (uint32_t i = 0; i < f->chunk_count; i++)
        if (f->off[i + 1] - f->off[i] > f->max_chunk) f->max_chunk = f->off[i + 1] - f->off[i];
}

/* Read the cache file at path into f if it is a valid form of these parameters; 0 if so. */
static int form_load(const char *path, uint8_t encoding, uint8_t window_bits,
                     uint32_t chunk_size, uint32_t image_size, release_form_t *f)
{
    FILE *fh = fopen(path, "rb");
    if (!fh) return -1;
    uint8_t *buf = NULL;
    long n = -1;
    if (fseek(fh, 0, SEEK_END) == 0) n = ftell(fh);
    if (n < (long)(FORM_HEAD + 8) || fseek(fh, 0, SEEK_SET) != 0 ||
        !(buf = malloc((size_t)n)) || fread(buf, 1, (size_t)n, fh) != (size_t)n) {
        fclose(fh);
        free(buf);
        return -1;
    }
    fclose(fh);
    uint32_t count = (image_size + chunk_size - 1) / chunk_size;
    size_t head = FORM_HEAD + 4u * ((size_t)count + 1u);
    if (memcmp(buf, FORM_MAGIC, 4) != 0 || buf[4] != FORM_VERSION || buf[5] != encoding ||
        buf[6] != window_bits || get_u32(buf + 8) != chunk_size || get_u32(buf + 12) != count ||
        get_u32(buf + 16) != image_size || (size_t)n < head + 4u ||
        crc32(0, buf, (uInt)((size_t)n - 4u)) != get_u32(buf + n - 4) ||
        get_u32(buf + FORM_HEAD + 4u * count) != (size_t)n - 4u - head)
        goto bad;
    f->file = buf;
    f->file_len = (size_t)n;
    f->off = (uint32_t *)calloc(count + 1u, sizeof(uint32_t));
    if (!f->off) goto bad;
    for (uint32_t i = 0; i <= count; i++) {
        f->off[i] = get_u32(buf + FORM_HEAD + 4u * i);
        if (i > 0 && f->off[i] < f->off[i - 1]) {
            free(f->off);
            goto bad;
        }
    }
    /* the offsets live in their own array; the file keeps the data */
    f->data = buf + head;
    f->chunk_count = count;
    form_summary(f);
    return 0;
bad:
    free(buf);
    memset(f, 0, sizeof(*f));
    return -1;
}

/* Compress image into f, laid out as the cache file: each chunk its own raw deflate stream
 * ended by its final block (zbest.h: the smallest of zlib's candidate settings), with the
 * 1 << window_bits image bytes before it as preset dictionary for deflate-sync and none for
 * deflate-full. 0 or -1 (no memory, zlib failure). */
static int form_build(const uint8_t *image, uint32_t image_size, uint8_t encoding,
                      uint8_t window_bits, uint32_t chunk_size, release_form_t *f)
{
    uint32_t count = (image_size + chunk_size - 1) / chunk_size;
    size_t head = FORM_HEAD + 4u * ((size_t)count + 1u);
    size_t window = (size_t)1 << window_bits;
    /* every chunk's worst case */
    size_t cap = head + (size_t)count * zbest__bound(chunk_size) + 4u;
    uint8_t *buf = malloc(cap);
    uint32_t *off = calloc(count + 1u, sizeof(uint32_t));
    if (!buf || !off) goto err;
    size_t pos = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t at = i * chunk_size;
        uint32_t len = image_size - at < chunk_size ? image_size - at : chunk_size;
        size_t dict = encoding == MQOTA_ENCODING_DEFLATE_SYNC ? (at < window ? at : window) : 0;
        off[i] = (uint32_t)pos;
        long n = zbest__deflate(image + at, len, image + at - dict, dict, (int)window_bits,
                                buf + head + pos);
        if (n < 0) goto err;
        pos += (size_t)n;
    }
    off[count] = (uint32_t)pos;
    memcpy(buf, FORM_MAGIC, 4);
    buf[4] = FORM_VERSION;
    buf[5] = encoding;
    buf[6] = window_bits;
    buf[7] = 0;
    put_u32(buf + 8, chunk_size);
    put_u32(buf + 12, count);
    put_u32(buf + 16, image_size);
    for (uint32_t i = 0; i <= count; i++) put_u32(buf + FORM_HEAD + 4u * i, off[i]);
    put_u32(buf + head + pos, (uint32_t)crc32(0, buf, (uInt)(head + pos)));
    f->file = buf;
    f->file_len = head + pos + 4u;
    f->off = off;
    f->data = buf + head;
    f->chunk_count = count;
    form_summary(f);
    return 0;
err:
    free(buf);
    free(off);
    return -1;
}

int release__form(mqotad_t *d, const db_release_t *r, const uint8_t *image, uint8_t encoding,
                  uint8_t window_bits, uint32_t chunk_size, release_form_t *out)
{
    char path[PATH_MAX + 64], dir[PATH_MAX];
    memset(out, 0, sizeof(*out));
    if ((encoding != MQOTA_ENCODING_DEFLATE_SYNC && encoding != MQOTA_ENCODING_DEFLATE_FULL) ||
        window_bits < MQOTA_WINDOW_BITS_MIN || window_bits > MQOTA_WINDOW_BITS_MAX ||
        chunk_size < MQOTA_CHUNK_MIN || chunk_size > MQOTA_CHUNK_MAX || r->size == 0)
        return -1;
    snprintf(dir, sizeof(dir), "%s/releases", d->data_dir);
    snprintf(path, sizeof(path), "%s/%s.z%uw%uc%u", dir, r->sha256, encoding, window_bits,
             chunk_size);
    if (form_load(path, encoding, window_bits, chunk_size, r->size, out) == 0) return 0;
    if (!image) return 1; /* not cached; the caller has no image to build it from */
    uint64_t t0 = mqh_now_ms();
    if (form_build(image, r->size, encoding, window_bits, chunk_size, out) != 0) {
        mqh_log(MQH_ERROR, "cannot compress release %lld (%s, window %u, chunks of %u bytes)",
                (long long)r->id, encoding == MQOTA_ENCODING_DEFLATE_SYNC ? "deflate-sync"
                                                                         : "deflate-full",
                window_bits, chunk_size);
        return -1;
    }
    mqh_log(MQH_INFO, "release %lld compressed (%s, window %u, chunks of %u bytes): %u of %u "
            "bytes in %llu ms, cached in %s", (long long)r->id,
            encoding == MQOTA_ENCODING_DEFLATE_SYNC ? "deflate-sync" : "deflate-full",
            window_bits, chunk_size, out->wire_size, r->size,
            (unsigned long long)(mqh_now_ms() - t0), path);
    int e = 0;
    if (store_file(dir, path, out->file, out->file_len, &e) != 0)
        mqh_log(MQH_WARN, "cannot cache the compressed release %lld in %s: %s (it is built "
                "again next time)", (long long)r->id, path, strerror(e));
    return 0;
}
