/* Fuzz smtp_sender_header(): the input is a message header (and maybe a
 * body), checked against three allowed-sender lists.
 *
 * Invariants: what the header holds (From mailboxes and fields,
 * Message-ID, Date, whether it ended) does not depend on the list; a list
 * that allows nothing refuses every header with a From mailbox, and
 * refuses whatever a list that allows everything refuses; the refused
 * text is a NUL-terminated string within its buffer; reading a longer
 * input never finds fewer From fields than reading its first half. */
#include "fuzz.h"

#include "smtp/smtp_sender.h"

static const char all[] = "*";
static const char some[] = "alice@example.com\0*@other.example";

static void check_same(const struct smtp_sender_header *a,
		       const struct smtp_sender_header *b)
{
	CHECK(a->from == b->from);
	CHECK(a->from_fields == b->from_fields);
	CHECK(a->message_id == b->message_id);
	CHECK(a->date == b->date);
	CHECK(a->complete == b->complete);
	CHECK(memchr(a->refused_text, '\0', sizeof(a->refused_text)) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_copy(data, size);
	struct smtp_sender_header none_r, all_r, some_r, half_r;
	smtp_sender_header(buf, size, "", 0, "+", &none_r);
	smtp_sender_header(buf, size, all, sizeof(all), "+", &all_r);
	smtp_sender_header(buf, size, some, sizeof(some), "+-", &some_r);
	check_same(&none_r, &all_r);
	check_same(&none_r, &some_r);
	if (none_r.from > 0)
		CHECK(none_r.refused);
	if (all_r.refused)
		CHECK(none_r.refused && some_r.refused);
	if (some_r.refused)
		CHECK(none_r.refused);
	if (!none_r.refused)
		CHECK(none_r.from == 0);
	smtp_sender_header(buf, size / 2, all, sizeof(all), "+", &half_r);
	CHECK(half_r.from_fields <= all_r.from_fields || !half_r.complete);
	free(buf);
	return 0;
}
