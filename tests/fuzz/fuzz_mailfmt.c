/* Fuzz cli_mailfmt: any bytes as an mbox file, a Maildir file name, a
 * dovecot-keywords, dovecot-uidlist or subscriptions file, and a folder
 * name on disk.
 *
 * Invariants: mbox messages lie within the input, in order, each after
 * its From_ line and before the next; dates, when found, lie within the
 * years the parser takes; flags are STORE_FLAG_* bits and keywords valid
 * and not repeated; the converted bytes are as long as announced, at most
 * twice the input, without a bare LF when CRLF was asked for, and
 * unchanged exactly when mailfmt_convert_needed says so; Maildir info
 * written back parses to the same flags; every name decoded is a valid
 * mailbox name that encodes and decodes to itself; every uidlist entry is
 * found again. */
#include "fuzz.h"

#include <strings.h>

#include "cli/cli_mailfmt.h"
#include "core/str.h"
#include "store/store.h"

#define ALL_FLAGS                                                           \
	(STORE_FLAG_SEEN | STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED |       \
	 STORE_FLAG_DELETED | STORE_FLAG_DRAFT)
/* 1900-01-01 minus a day of zone, 9999-12-31 plus a day. */
#define DATE_MIN (-2208988800LL - 86400)
#define DATE_MAX (253402300799LL + 86400)

static void check_keywords(const struct str *kw)
{
	for (size_t i = 0; i < kw->len;) {
		size_t n = strcspn(kw->data + i, " ");
		CHECK(mailfmt_keyword_ok(kw->data + i, n));
		/* not repeated further on */
		for (size_t j = i + n + 1; j < kw->len;) {
			size_t m = strcspn(kw->data + j, " ");
			CHECK(m != n || memcmp(kw->data + i, kw->data + j, n));
			j += m + 1;
		}
		i += n + 1;
	}
}

static void to_str(const char *p, size_t n, void *ctx)
{
	str_append(ctx, p, n);
}

static void check_convert(const char *in, size_t len, unsigned how)
{
	struct str out = STR_INIT;
	uint64_t n = mailfmt_convert(in, len, how, to_str, &out);
	CHECK(n == out.len);
	CHECK(n <= 2 * (uint64_t)len);
	bool same = out.len == len && (len == 0 || !memcmp(out.data, in, len));
	CHECK(mailfmt_convert_needed(in, len, how) == !same);
	if (how & MAILFMT_CRLF)
		for (size_t i = 0; i < out.len; i++)
			if (out.data[i] == '\n')
				CHECK(i > 0 && out.data[i - 1] == '\r');
	/* Once is enough: CRLF output has nothing more to convert. */
	if (how == MAILFMT_CRLF)
		CHECK(!mailfmt_convert_needed(out.data ? out.data : "",
					      out.len, MAILFMT_CRLF));
	str_free(&out);
}

static void check_mbox(const char *data, size_t len)
{
	struct mailfmt_mbox_msg m;
	struct str kw = STR_INIT;
	size_t pos = 0, count = 0;
	while (mailfmt_mbox_next(data, len, &pos, &m) == 1) {
		CHECK(++count <= len);
		check_within(data, len, data + m.from, m.from_len);
		check_within(data, len, data + m.off, m.len);
		CHECK(m.from + m.from_len <= m.off);
		CHECK(m.off + m.len <= pos && pos <= len);
		int64_t t;
		if (mailfmt_mbox_date(data + m.from, m.from_len, &t) == 1)
			CHECK(t >= DATE_MIN && t <= DATE_MAX);
		unsigned flags;
		bool gone;
		str_clear(&kw);
		mailfmt_mbox_flags(data + m.off, m.len, &flags, &kw, &gone);
		CHECK((flags & ~(unsigned)ALL_FLAGS) == 0);
		check_keywords(&kw);
	}
	CHECK(pos == len);
	str_free(&kw);
}

static void check_info(const char *name, size_t len)
{
	unsigned flags, flags2;
	uint32_t letters, letters2;
	char out[40];
	CHECK(mailfmt_maildir_base(name, len) <= len);
	mailfmt_maildir_info(name, len, &flags, &letters);
	CHECK((flags & ~(unsigned)ALL_FLAGS) == 0);
	CHECK(letters < (1u << MAILFMT_KEYWORDS));
	mailfmt_maildir_info_write(flags, letters, out);
	mailfmt_maildir_info(out, strlen(out), &flags2, &letters2);
	CHECK(flags == flags2 && letters == letters2);
}

/* "inbox/x": the store spells INBOX so, and decoding makes it so. */
static bool inbox_spelt_otherwise(const char *name)
{
	return strncasecmp(name, "INBOX", 5) == 0 &&
	       (name[5] == '\0' || name[5] == '/') &&
	       strncmp(name, "INBOX", 5) != 0;
}

static void check_name(const char *name)
{
	struct str enc = STR_INIT, back = STR_INIT;
	CHECK(mailfmt_name_ok(name, strlen(name)));
	if (inbox_spelt_otherwise(name))
		return;
	CHECK(mailfmt_folder_encode(name, &enc) == 1);
	CHECK(mailfmt_folder_decode(enc.data, enc.len, '.', &back) == 1);
	CHECK(strcmp(back.data, name) == 0);
	str_clear(&enc);
	CHECK(mailfmt_subscription_write(name, &enc) == 1);
	str_clear(&back);
	CHECK(enc.len > 0 && enc.data[enc.len - 1] == '\n');
	CHECK(mailfmt_folder_decode(enc.data, enc.len - 1, '\t', &back) == 1);
	CHECK(strcmp(back.data, name) == 0);
	str_free(&enc);
	str_free(&back);
}

static void subscribed(const char *name, void *ctx)
{
	(void)ctx;
	check_name(name);
}

static void check_files(const char *data, size_t len)
{
	char *names[MAILFMT_KEYWORDS];
	mailfmt_keywords_parse(data, len, names);
	for (int i = 0; i < MAILFMT_KEYWORDS; i++)
		if (names[i] != NULL)
			CHECK(mailfmt_keyword_ok(names[i], strlen(names[i])));
	mailfmt_keywords_clear(names);

	struct mailfmt_uid *uids;
	size_t n;
	mailfmt_uidlist_parse(data, len, &uids, &n);
	for (size_t i = 0; i < n; i++) {
		CHECK(uids[i].uid != 0);
		CHECK(i == 0 || strcmp(uids[i - 1].base, uids[i].base) <= 0);
		CHECK(mailfmt_uid_find(uids, n, uids[i].base,
				       strlen(uids[i].base)) != 0);
	}
	mailfmt_uids_free(&uids, n);
	mailfmt_subscriptions_parse(data, len, '.', subscribed, NULL);
}

static void check_folder(const char *data, size_t len)
{
	static const char seps[] = {'.', '/', '\t'};
	for (size_t i = 0; i < sizeof(seps); i++) {
		struct str name = STR_INIT;
		if (mailfmt_folder_decode(data, len, seps[i], &name) == 1)
			check_name(name.data);
		else
			CHECK(name.len == 0);
		str_free(&name);
	}
	/* The input as a name of its own, when it is one. */
	if (memchr(data, '\0', len) == NULL) {
		char *s = malloc(len + 1);
		memcpy(s, data, len);
		s[len] = '\0';
		struct str enc = STR_INIT;
		int rc = mailfmt_folder_encode(s, &enc);
		CHECK(rc == (mailfmt_name_ok(s, len) ? 1 : -1));
		if (rc == 1)
			check_name(s);
		str_free(&enc);
		free(s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_copy(data, size);
	check_mbox(buf, size);
	for (unsigned how = 0; how < 4; how++)
		check_convert(buf, size, how);
	check_info(buf, size);
	check_files(buf, size);
	check_folder(buf, size);
	free(buf);
	return 0;
}
