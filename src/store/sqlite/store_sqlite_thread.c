/* Threads of messages (RFC 8474 THREADID): the ids in a message's header
 * looked up in, and added to, table thread_ref. */
#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "core/str.h"
#include "store/sqlite/store_sqlite_thread.h"

/* Bytes read at a time while looking for the end of a header: most
 * headers end in the first piece. */
#define HEADER_STEP 4096

/* The key of the ids' hash.  It is fixed, not secret: the hashes are kept
 * in the database and must come out the same in every process.  Nothing
 * is gained by making two ids collide that naming the other id in a
 * References field would not give just as well. */
static const unsigned char hash_key[crypto_shorthash_KEYBYTES] =
	"posthorn-thread";

/* A normalized msg-id as the key of thread_ref (SipHash-2-4, 64 bits:
 * ids of different threads meet by chance about once in 10^8 accounts
 * of a million ids). */
static int64_t id_hash(const char *id)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v = 0;
	crypto_shorthash(h, (const unsigned char *)id, strlen(id), hash_key);
	for (size_t i = 0; i < sizeof(h); i++)
		v |= (uint64_t)h[i] << (8 * i);
	return (int64_t)v;
}

/* ---- the header ---- */

/* Read up to n bytes at offset off of a message: > 0 bytes read, 0 at its
 * end, -1 with errno set. */
typedef ssize_t (*read_fn)(void *ctx, uint64_t off, void *buf, size_t n);

static ssize_t source_read(void *ctx, uint64_t off, void *buf, size_t n)
{
	const struct store_source *src = ctx;
	for (int i = 0; i < src->iovcnt; i++) {
		size_t len = src->iov[i].iov_len;
		if (off >= len) {
			off -= len;
			continue;
		}
		size_t k = len - off < n ? (size_t)(len - off) : n;
		memcpy(buf, (const char *)src->iov[i].iov_base + off, k);
		return (ssize_t)k;
	}
	if (src->fd < 0 || off >= src->fd_len)
		return 0;
	if (n > src->fd_len - off)
		n = (size_t)(src->fd_len - off);
	ssize_t got;
	do {
		got = pread(src->fd, buf, n, (off_t)off);
	} while (got < 0 && errno == EINTR);
	if (got == 0) {
		errno = EIO;	/* shorter than the caller said */
		return -1;
	}
	return got;
}

/* Whether the blank line that ends a header is in h, looking from `from`
 * on (the bytes before it were looked at already). */
static bool header_ended(const struct str *h, size_t from)
{
	const char *p = h->data + (from > 2 ? from - 2 : 0);
	const char *end = h->data + h->len;
	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (++p == end)
			break;
		if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))
			return true;
	}
	return false;
}

/* The header of a message (or its first SQLITE_THREAD_HEADER_MAX bytes)
 * into h, a piece at a time: a 50 MB message costs one piece. */
static int read_header(read_fn rd, void *ctx, struct str *h)
{
	str_clear(h);
	while (h->len < SQLITE_THREAD_HEADER_MAX) {
		size_t want = SQLITE_THREAD_HEADER_MAX - h->len;
		if (want > HEADER_STEP)
			want = HEADER_STEP;
		ssize_t got = rd(ctx, h->len, str_reserve(h, want), want);
		if (got < 0)
			return -1;
		if (got == 0)
			break;
		str_commit(h, (size_t)got);
		if (header_ended(h, h->len - (size_t)got))
			break;
	}
	return 0;
}

static void keys_of(const struct str *h, struct sqlite_thread_keys *k)
{
	struct mime_msgid_thread t = MIME_MSGID_THREAD_INIT;
	mime_msgid_thread_parse(h->data ? h->data : "", h->len, &t);
	k->nrefs = 0;
	const char *p = t.refs.data;
	for (size_t i = 0; i < t.nrefs && k->nrefs < MIME_MSGID_THREAD_REFS + 1;
	     i++, p += strlen(p) + 1)
		k->refs[k->nrefs++] = id_hash(p);
	k->has_own = t.own.len > 0;
	k->own = k->has_own ? id_hash(t.own.data) : 0;
	mime_msgid_thread_clear(&t);
}

int sqlite_thread_keys(const struct store_source *src,
		       struct sqlite_thread_keys *keys_r, const char **err_r)
{
	struct str h = STR_INIT;
	int rc = read_header(source_read, (void *)src, &h);
	if (rc < 0) {
		int fail = sqlite_fail_errno(errno, "reading the message",
					     err_r);
		str_free(&h);
		/* A disk that is full is not why a read fails. */
		return fail == STORE_FAIL_FULL ? STORE_FAIL_TEMP : fail;
	}
	keys_of(&h, keys_r);
	str_free(&h);
	return 1;
}

/* ---- the thread ---- */

const char sqlite_thread_find_sql[] =
	"SELECT thread_id FROM thread_ref WHERE hash = ?";
const char sqlite_thread_put_sql[] =
	"INSERT OR IGNORE INTO thread_ref(hash, thread_id) VALUES (?, ?)";

/* 1 with the thread of the id in *thread_r, 0 if unknown, -1. */
static int find(sqlite3_stmt *st, int64_t hash, int64_t *thread_r)
{
	sqlite3_bind_int64(st, 1, hash);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*thread_r = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* An id that is known already keeps its thread. */
static int put(sqlite3_stmt *st, int64_t hash, int64_t thread)
{
	sqlite3_bind_int64(st, 1, hash);
	sqlite3_bind_int64(st, 2, thread);
	return sqlite_step_reset(st, SQLITE_DONE);
}

/* The lookups stop at the first id found: the ids after it belong to the
 * same conversation, and a message naming them will name that one too.
 * So a reply costs one lookup and one insert, like a new message. */
static int assign(sqlite3_stmt *fst, sqlite3_stmt *pst,
		  const struct sqlite_thread_keys *k, int64_t body_id,
		  int64_t *thread_r)
{
	int64_t thread = body_id;
	size_t missing = 0;
	int rc = 0;
	while (rc == 0 && missing < k->nrefs) {
		rc = find(fst, k->refs[missing], &thread);
		if (rc == 0)
			missing++;
	}
	if (rc == 0 && k->has_own)
		rc = find(fst, k->own, &thread);
	if (rc < 0)
		return -1;
	/* The ids named and not there wait for their messages in this
	 * thread. */
	for (size_t i = 0; i < missing; i++)
		if (put(pst, k->refs[i], thread) < 0)
			return -1;
	if (k->has_own && put(pst, k->own, thread) < 0)
		return -1;
	*thread_r = thread;
	return 0;
}

int sqlite_thread_assign(struct store_account *a,
			 const struct sqlite_thread_keys *keys,
			 int64_t body_id, int64_t *thread_r)
{
	return assign(a->st[ST_THREAD_FIND], a->st[ST_THREAD_PUT], keys,
		      body_id, thread_r);
}

/* ---- the upgrade ---- */

struct blob_ctx {
	sqlite3_blob *blob;
};

static ssize_t blob_read(void *ctx, uint64_t off, void *buf, size_t n)
{
	struct blob_ctx *b = ctx;
	uint64_t size = (uint64_t)sqlite3_blob_bytes(b->blob);
	if (off >= size)
		return 0;
	if (n > size - off)
		n = (size_t)(size - off);
	if (sqlite3_blob_read(b->blob, buf, (int)n, (int)off) != SQLITE_OK) {
		errno = EIO;
		return -1;
	}
	return (ssize_t)n;
}

/* Statements of the fill, in the order of fill_sql. */
enum { F_BODIES, F_FIND, F_PUT, F_KEEP, F_COUNT };

static const char *const fill_sql[F_COUNT] = {
	[F_BODIES] = "SELECT id FROM body ORDER BY id",
	[F_FIND] = sqlite_thread_find_sql,
	[F_PUT] = sqlite_thread_put_sql,
	[F_KEEP] = "INSERT INTO temp.thread_fill(body_id, thread_id) "
		   "VALUES (?, ?)",
};

/* One body: its keys from its header, its thread kept for the update.
 * A blob handle moved from row to row compiles nothing again. */
static int fill_one(sqlite3 *db, sqlite3_stmt **st, struct blob_ctx *b,
		    int64_t body, struct str *h)
{
	struct sqlite_thread_keys k;
	int64_t thread;
	int rc = b->blob == NULL
			 ? sqlite3_blob_open(db, "main", "body", "data", body,
					     0, &b->blob)
			 : sqlite3_blob_reopen(b->blob, body);
	if (rc != SQLITE_OK || read_header(blob_read, b, h) < 0)
		return -1;
	keys_of(h, &k);
	if (assign(st[F_FIND], st[F_PUT], &k, body, &thread) < 0)
		return -1;
	sqlite3_bind_int64(st[F_KEEP], 1, body);
	sqlite3_bind_int64(st[F_KEEP], 2, thread);
	return sqlite_step_reset(st[F_KEEP], SQLITE_DONE);
}

static int fill_bodies(sqlite3 *db, sqlite3_stmt **st)
{
	struct blob_ctx b = {NULL};
	struct str h = STR_INIT;
	int rc;
	while ((rc = sqlite3_step(st[F_BODIES])) == SQLITE_ROW)
		if (fill_one(db, st, &b, sqlite3_column_int64(st[F_BODIES], 0),
			     &h) < 0)
			break;
	sqlite3_blob_close(b.blob);
	str_free(&h);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* 1 if the database holds messages, 0 if not (a new account), -1. */
static int any_body(sqlite3 *db)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM body LIMIT 1", -1, &st,
			       NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int sqlite_thread_fill(sqlite3 *db)
{
	sqlite3_stmt *st[F_COUNT] = {0};
	int rc = any_body(db);
	/* Every new account passes here: make it cost one read. */
	if (rc <= 0)
		return rc;
	rc = -1;
	if (sqlite3_exec(db, "CREATE TEMP TABLE thread_fill(body_id INTEGER "
			 "PRIMARY KEY, thread_id INTEGER NOT NULL)", NULL,
			 NULL, NULL) != SQLITE_OK)
		return -1;
	for (int i = 0; i < F_COUNT; i++)
		if (sqlite3_prepare_v2(db, fill_sql[i], -1, &st[i], NULL) !=
		    SQLITE_OK)
			goto out;
	if (fill_bodies(db, st) < 0)
		goto out;
	/* A message whose bytes are missing (a broken database) is a
	 * thread of its own. */
	if (sqlite3_exec(db, "UPDATE message SET thread_id = coalesce((SELECT "
			 "thread_id FROM temp.thread_fill f WHERE f.body_id = "
			 "message.body_id), body_id)", NULL, NULL,
			 NULL) != SQLITE_OK)
		goto out;
	rc = 0;
out:
	for (int i = 0; i < F_COUNT; i++)
		sqlite3_finalize(st[i]);
	/* On failure the upgrade's rollback takes the table with it, and
	 * the error stays the one to report. */
	if (rc == 0 && sqlite3_exec(db, "DROP TABLE temp.thread_fill", NULL,
				    NULL, NULL) != SQLITE_OK)
		rc = -1;
	return rc;
}
