/* fuzz_roundtrip.c -- parse(build(x)) == x: the records of any message the
 * RR reader accepts, written again with our compression, read back equal. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static struct wire_rr a[16], b;

/* Compression matches names case-insensitively (RFC 4343), so a name in
 * RDATA may come back in the case of an earlier name: compare folded. */
static int same_rdata(const uint8_t *x, const uint8_t *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (dname_lower_char(x[i]) != dname_lower_char(y[i]))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static uint8_t out[WIRE_TCP_MAX];
	struct wire_buf w;
	size_t pos = WIRE_HDR_LEN;
	unsigned n = 0;

	if (len < WIRE_HDR_LEN || wire_skip_question(data, len, &pos, data[5] & 3) != CAR_EOK)
		return 0;
	while (n < 16 && pos < len && wire_rr_read(data, len, &pos, &a[n]) == CAR_EOK)
		n++;
	wire_buf_init(&w, out, sizeof(out));
	for (int i = 0; i < 12; i++)
		wire_put_u8(&w, 0);
	for (unsigned i = 0; i < n; i++) {
		if (a[i].type == 6 && a[i].rdlen < 22)
			return 0; /* an SOA too short to rewrite: skip the input */
		wire_put_rr(&w, a[i].owner, a[i].type, a[i].rclass, a[i].ttl, a[i].rdata, a[i].rdlen);
	}
	if (w.err)
		return 0; /* decompressed, the records may not fit 64 KiB again */
	pos = WIRE_HDR_LEN;
	for (unsigned i = 0; i < n; i++) {
		if (wire_rr_read(out, w.len, &pos, &b) != CAR_EOK)
			abort();
		dname_lower(a[i].owner);
		dname_lower(b.owner);
		if (!dname_equal(a[i].owner, b.owner) || a[i].type != b.type ||
		    a[i].rclass != b.rclass || a[i].ttl != b.ttl || a[i].rdlen != b.rdlen ||
		    !same_rdata(a[i].rdata, b.rdata, b.rdlen))
			abort();
	}
	if (pos != w.len)
		abort();
	return 0;
}
