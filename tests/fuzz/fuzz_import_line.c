/* Fuzz import_parse_line(): any bytes as one line of an import file.
 *
 * Invariants: 1 only with a canonical address (it re-parses to itself), a
 * non-empty password and fields within IMPORT_FIELD_MAX; 0 only for blank
 * and # lines; -1 always with a reason; and an entry written back as CSV,
 * every field quoted, parses to the same entry. */
#include "fuzz.h"

#include "cli/cli_import.h"

static size_t put_quoted(char *out, const char *field)
{
	size_t o = 0;
	out[o++] = '"';
	for (; *field; field++) {
		if (*field == '"')
			out[o++] = '"';
		out[o++] = *field;
	}
	out[o++] = '"';
	return o;
}

static void check_entry(const struct import_line *r)
{
	struct addr a;
	char canon[ADDR_TEXT_MAX];
	const char *err;
	CHECK(strlen(r->address) < ADDR_TEXT_MAX);
	CHECK(addr_parse(r->address, strlen(r->address), ADDR_UTF8, &a,
			 &err) == 1);
	CHECK(!a.literal);
	addr_format(&a, canon);
	CHECK(strcmp(canon, r->address) == 0);
	CHECK(r->password[0] != '\0');
	CHECK(strlen(r->password) < IMPORT_FIELD_MAX);
	CHECK(strlen(r->name) < IMPORT_FIELD_MAX);
}

static void check_roundtrip(const struct import_line *r)
{
	/* Quoting at most doubles a field. */
	static char line[4 * 2 * IMPORT_FIELD_MAX + 64];
	static struct import_line again;
	const char *err = NULL;
	size_t o = put_quoted(line, r->address);
	line[o++] = ',';
	o += put_quoted(line + o, r->password);
	o += (size_t)sprintf(line + o, ",%llu,", (unsigned long long)r->quota);
	o += put_quoted(line + o, r->name);
	int rc = import_parse_line(line, o, &again, &err);
	/* Doubled quotes may push a field past the limit. */
	if (rc < 0 && strcmp(err, "field too long") == 0)
		return;
	CHECK(rc == 1);
	CHECK(strcmp(again.address, r->address) == 0);
	CHECK(strcmp(again.password, r->password) == 0);
	CHECK(again.quota == r->quota);
	CHECK(strcmp(again.name, r->name) == 0);
}

static int blank_or_comment(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i == len || s[i] == '#';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct import_line r;
	const char *err = NULL;
	char *buf = fuzz_copy(data, size);
	int rc = import_parse_line(buf, size, &r, &err);
	CHECK(rc >= -1 && rc <= 1);
	CHECK((rc == 0) == blank_or_comment(buf, size));
	if (rc < 0)
		CHECK(err != NULL);
	if (rc == 1) {
		check_entry(&r);
		check_roundtrip(&r);
	}
	free(buf);
	return 0;
}
