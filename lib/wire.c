/* wire.c -- DNS message codec: query parser (every read bounds-checked,
 * compression pointers strictly backwards) and response builder. */
#include "wire.h"

#include <string.h>

static int name_read(const uint8_t *pkt, size_t len, size_t *pos, uint8_t *out, size_t min_target)
{
	size_t p = *pos, end = 0, n = 0;
	size_t floor = p; /* a pointer must land before the chunk it ends */
	unsigned hops = 0;

	for (;;) {
		if (p >= len)
			return CAR_EMALF;
		uint8_t c = pkt[p];

		if ((c & 0xc0) == 0xc0) { /* RFC 1035 4.1.4 */
			if (p + 1 >= len)
				return CAR_EMALF;
			size_t target = ((size_t)(c & 0x3f) << 8) | pkt[p + 1];

			if (end == 0)
				end = p + 2;
			if (target < min_target || target >= floor)
				return CAR_EMALF;
			if (++hops > WIRE_PTR_HOPS)
				return CAR_ELIMIT;
			p = floor = target;
			continue;
		}
		if (c & 0xc0) /* RFC 6891 5: extended label types are gone */
			return CAR_EMALF;
		if (c == 0) {
			out[n++] = 0;
			if (end == 0)
				end = p + 1;
			break;
		}
		if (p + 1 + c > len || n + 1 + c + 1 > DNAME_MAXLEN)
			return CAR_EMALF;
		memcpy(out + n, pkt + p, 1 + (size_t)c);
		n += 1 + (size_t)c;
		p += 1 + (size_t)c;
	}
	*pos = end;
	return (int)n;
}

int wire_name_read(const uint8_t *pkt, size_t len, size_t *pos, uint8_t *out)
{
	return name_read(pkt, len, pos, out, WIRE_HDR_LEN);
}

int wire_name_read_any(const uint8_t *pkt, size_t len, size_t *pos, uint8_t *out)
{
	return name_read(pkt, len, pos, out, 0);
}

/* RFC 7871 6: FAMILY, SOURCE PREFIX-LENGTH, SCOPE PREFIX-LENGTH (0 in a
 * query), then exactly the address bytes the prefix covers, with the bits
 * past the prefix zero. Anything else, or a second ECS, is FORMERR. */
bool wire_ecs_valid(const uint8_t *o, size_t olen)
{
	if (olen < 4)
		return false;
	unsigned family = wire_read16(o), source = o[2], max = family == 1 ? 32 : 128;
	size_t alen = (source + 7) / 8;

	if ((family != 1 && family != 2) || source > max || o[3] != 0 || olen != 4 + alen)
		return false;
	return !(source % 8 && (o[4 + alen - 1] & (0xff >> (source % 8))));
}

static int parse_ecs(const uint8_t *o, size_t olen, struct wire_query *q)
{
	if (q->ecs_family || !wire_ecs_valid(o, olen))
		return CAR_EMALF;
	unsigned family = wire_read16(o), source = o[2];
	size_t alen = (source + 7) / 8;

	memset(q->ecs_addr, 0, sizeof(q->ecs_addr));
	memcpy(q->ecs_addr, o + 4, alen);
	q->ecs_family = (uint8_t)family;
	q->ecs_source = (uint8_t)source;
	return CAR_EOK;
}

/* RFC 6891 6.1.2: OPT RDATA is a sequence of {code, length, data}. */
static int parse_opt_rdata(const uint8_t *pkt, size_t rd_off, size_t rdlen, struct wire_query *q)
{
	const uint8_t *rd = pkt + rd_off;
	size_t p = 0;

	q->edns_options = 0;
	while (p < rdlen) {
		if (p + 4 > rdlen)
			return CAR_EMALF;
		size_t olen = wire_read16(rd + p + 2);

		if (p + 4 + olen > rdlen)
			return CAR_EMALF;
		if (wire_read16(rd + p) == 10) { /* COOKIE: one, or FORMERR (RFC 7873 5.2.2) */
			if (q->cookie_off)
				return CAR_EMALF;
			q->cookie_off = (uint16_t)(rd_off + p + 4);
			q->cookie_len = (uint16_t)olen;
		} else if (wire_read16(rd + p) == WIRE_OPT_ECS &&
			   parse_ecs(rd + p + 4, olen, q) < 0) {
			return CAR_EMALF;
		}
		p += 4 + olen;
		q->edns_options++;
	}
	return CAR_EOK;
}

static int parse_additional(const uint8_t *pkt, size_t len, size_t *pos, struct wire_query *q)
{
	uint8_t owner[DNAME_MAXLEN];
	int olen = wire_name_read(pkt, len, pos, owner);

	if (olen < 0)
		return olen;
	if (*pos + 10 > len)
		return CAR_EMALF;
	const uint8_t *rr = pkt + *pos;
	uint16_t type = wire_read16(rr), rdlen = wire_read16(rr + 8);

	if (*pos + 10 + rdlen > len)
		return CAR_EMALF;
	if (type == TYPE_OPT) {
		uint32_t ttl = wire_read32(rr + 4);

		/* RFC 6891 6.1.1: one OPT, owned by the root */
		if (q->has_edns || olen != 1)
			return CAR_EMALF;
		q->has_edns = true;
		q->edns_udp = wire_read16(rr + 2);
		q->edns_version = (uint8_t)(ttl >> 16);
		q->edns_flags = (uint16_t)ttl;
		if (parse_opt_rdata(pkt, *pos + 10, rdlen, q) < 0)
			return CAR_EMALF;
	}
	*pos += 10 + (size_t)rdlen;
	return CAR_EOK;
}

enum wire_verdict wire_query_parse(const uint8_t *pkt, size_t len, struct wire_query *q)
{
	q->question_ok = false;
	q->has_edns = false;
	q->edns_version = 0;
	q->edns_udp = 0;
	q->edns_flags = 0;
	q->edns_options = 0;
	q->cookie_off = q->cookie_len = 0;
	q->ecs_family = 0;
	if (len < WIRE_HDR_LEN)
		return WIRE_DROP;
	q->id = wire_read16(pkt);
	q->flags = wire_read16(pkt + 2);
	q->qdcount = wire_read16(pkt + 4);
	q->ancount = wire_read16(pkt + 6);
	q->nscount = wire_read16(pkt + 8);
	q->arcount = wire_read16(pkt + 10);
	if (q->flags & WIRE_QR)
		return WIRE_DROP; /* never answer a response */

	size_t pos = WIRE_HDR_LEN;

	if (q->qdcount == 1) {
		int n = wire_name_read(pkt, len, &pos, q->qname);

		if (n > 0 && pos + 4 <= len) {
			q->qname_len = (uint8_t)n;
			dname_lower(q->qname);
			q->qtype = wire_read16(pkt + pos);
			q->qclass = wire_read16(pkt + pos + 2);
			pos += 4;
			q->question_end = (uint16_t)pos;
			q->question_ok = true;
		}
	}
	if (WIRE_OPCODE(q->flags) != 0)
		return WIRE_NOTIMP;
	if (!q->question_ok)
		return WIRE_FORMERR;
	/* A query carries nothing in answer or authority; RFC 9267: cap the
	 * work spent on the additional section. */
	if (q->ancount != 0 || q->nscount != 0 || q->arcount > WIRE_MAX_ADDITIONAL)
		return WIRE_FORMERR;
	for (unsigned i = 0; i < q->arcount; i++)
		if (parse_additional(pkt, len, &pos, q) < 0)
			return WIRE_FORMERR;
	if (pos != len)
		return WIRE_FORMERR; /* trailing bytes: counts that lie */
	if (q->has_edns && q->edns_version != 0)
		return WIRE_BADVERS;
	return WIRE_ANSWER;
}

/* --- builder --- */

/* Does the (possibly compressed) name at off in our own output equal name?
 * Case-insensitive. Bounded like the parser, though we wrote these bytes. */
static bool name_at_equals(const uint8_t *wire, size_t len, size_t off, const uint8_t *name)
{
	unsigned hops = 0;

	for (;;) {
		if (off >= len)
			return false;
		uint8_t c = wire[off];

		if ((c & 0xc0) == 0xc0) {
			if (off + 1 >= len || ++hops > WIRE_PTR_HOPS)
				return false;
			off = ((size_t)(c & 0x3f) << 8) | wire[off + 1];
			continue;
		}
		if (c != name[0])
			return false;
		if (c == 0)
			return true;
		if (off + 1 + c > len)
			return false;
		for (unsigned i = 1; i <= c; i++)
			if (dname_lower_char(wire[off + i]) != dname_lower_char(name[i]))
				return false;
		off += 1 + (size_t)c;
		name += 1 + c;
	}
}

void wire_buf_remember(struct wire_buf *b, size_t off)
{
	while (off < b->len && b->wire[off] != 0 && (b->wire[off] & 0xc0) == 0) {
		if (off <= 0x3fff && b->ncomp < WIRE_COMP_MAX)
			b->comp[b->ncomp++] = (uint16_t)off;
		off += 1 + (size_t)b->wire[off];
	}
}

/* Byte for byte the same name, read label by label (never past either). */
static bool same_name(const uint8_t *a, const uint8_t *b)
{
	for (;;) {
		if (*a != *b)
			return false;
		if (*a == 0)
			return true;
		if (memcmp(a + 1, b + 1, *a) != 0)
			return false;
		a += 1 + *a;
		b += 1 + *b;
	}
}

void wire_put_name(struct wire_buf *b, const uint8_t *name, bool compress)
{
	const uint8_t *s = name;
	size_t ptr = 0;
	bool found = false;

	if (b->err)
		return;
	if (compress && b->last_len && same_name(name, b->last)) {
		/* what the search found last time: names are only added after */
		if (b->max - b->len < 2) {
			b->err = CAR_ESPACE;
			return;
		}
		wire_write16(b->wire + b->len, (uint16_t)(0xc000 | b->last_ptr));
		b->len += 2;
		return;
	}
	if (compress) {
		for (; *s && !found; s += *s + 1) {
			for (unsigned i = 0; i < b->ncomp; i++) {
				/* a remembered offset is a label's start: most
				 * differ in their first label's length */
				if (b->wire[b->comp[i]] != *s)
					continue;
				if (name_at_equals(b->wire, b->len, b->comp[i], s)) {
					ptr = b->comp[i];
					found = true;
					break;
				}
			}
			if (found)
				break;
		}
	} else {
		s = name + dname_len(name) - 1;
	}
	size_t prefix = (size_t)(s - name);

	if (b->max - b->len < prefix + (found ? 2 : 1)) {
		b->err = CAR_ESPACE;
		return;
	}
	size_t start = b->len;
	bool whole = false; /* the name is remembered at start */

	memcpy(b->wire + b->len, name, prefix);
	b->len += prefix;
	if (found) {
		wire_write16(b->wire + b->len, (uint16_t)(0xc000 | ptr));
		b->len += 2;
	} else {
		b->wire[b->len++] = 0;
	}
	for (size_t off = start; off < start + prefix; off += 1 + (size_t)b->wire[off])
		if (off <= 0x3fff && b->ncomp < WIRE_COMP_MAX) {
			b->comp[b->ncomp++] = (uint16_t)off;
			whole = whole || off == start;
		}
	/* the same name next time: the pointer found, or the name just
	 * written (no earlier name matched it whole) when it was remembered */
	b->last_len = 0;
	if (!compress)
		return;
	size_t len = dname_len(name);

	if (len > DNAME_MAXLEN)
		return;
	if (found && prefix == 0)
		b->last_ptr = (uint16_t)ptr;
	else if (whole)
		b->last_ptr = (uint16_t)start;
	else
		return;
	memcpy(b->last, name, len);
	b->last_len = (uint8_t)len;
}

void wire_reply_begin(struct wire_buf *b, const uint8_t *query, const struct wire_query *q)
{
	uint16_t flags = WIRE_QR | (q->flags & (0x7800 | WIRE_RD | WIRE_CD));

	wire_buf_init(b, b->wire, b->max);
	wire_put_u16(b, q->id);
	wire_put_u16(b, flags);
	wire_put_u16(b, q->question_ok ? 1 : 0);
	wire_put_u16(b, 0);
	wire_put_u16(b, 0);
	wire_put_u16(b, 0);
	if (q->question_ok) {
		/* The query's question is never compressed (a pointer could
		 * only point into the header), so copy it: the client's case. */
		wire_put_bytes(b, query + WIRE_HDR_LEN, q->question_end - WIRE_HDR_LEN);
		wire_buf_remember(b, WIRE_HDR_LEN);
	}
}

void wire_set_rcode(uint8_t *wire, unsigned rcode)
{
	wire[3] = (uint8_t)((wire[3] & 0xf0) | (rcode & 0x0f));
}

void wire_put_opt(struct wire_buf *b, unsigned rcode, bool dnssec_ok)
{
	wire_put_u8(b, 0);
	wire_put_u16(b, TYPE_OPT);
	wire_put_u16(b, WIRE_EDNS_UDP);
	wire_put_u32(b, ((uint32_t)(rcode >> 4) << 24) | (dnssec_ok ? WIRE_EDNS_DO : 0));
	wire_put_u16(b, 0);
	if (!b->err)
		wire_write16(b->wire + 10, (uint16_t)(wire_read16(b->wire + 10) + 1));
}

/* --- resource records of whole messages --- */

/* RDATA layouts with names: NS/CNAME/PTR/DNAME one name; MX 2 bytes + name;
 * SRV 6 bytes + name; SOA two names + 20 bytes. Others are copied. */
int wire_rr_read(const uint8_t *msg, size_t len, size_t *pos, struct wire_rr *rr)
{
	int n = wire_name_read_any(msg, len, pos, rr->owner);

	if (n < 0)
		return n;
	if (*pos + 10 > len)
		return CAR_EMALF;
	rr->type = wire_read16(msg + *pos);
	rr->rclass = wire_read16(msg + *pos + 2);
	rr->ttl = wire_read32(msg + *pos + 4);
	size_t rdlen = wire_read16(msg + *pos + 8), start = *pos + 10, end = start + rdlen;

	if (end > len)
		return CAR_EMALF;
	size_t fixed = 0, names = 0, tail = 0;

	switch (rr->type) {
	case TYPE_NS:
	case TYPE_CNAME:
	case TYPE_PTR:
	case TYPE_DNAME:
		names = 1;
		break;
	case TYPE_MX:
		fixed = 2;
		names = 1;
		break;
	case TYPE_SRV:
		fixed = 6;
		names = 1;
		break;
	case TYPE_SOA:
		names = 2;
		tail = 20;
		break;
	default:
		memcpy(rr->rdata, msg + start, rdlen);
		rr->rdlen = (uint16_t)rdlen;
		*pos = end;
		return CAR_EOK;
	}
	size_t p = start, out = 0;

	if (p + fixed > end)
		return CAR_EMALF;
	memcpy(rr->rdata, msg + p, fixed);
	p += fixed;
	out = fixed;
	for (size_t i = 0; i < names; i++) {
		int nl = wire_name_read_any(msg, end, &p, rr->rdata + out);

		if (nl < 0)
			return nl;
		out += (size_t)nl;
	}
	if (p + tail != end)
		return CAR_EMALF;
	memcpy(rr->rdata + out, msg + p, tail);
	rr->rdlen = (uint16_t)(out + tail);
	*pos = end;
	return CAR_EOK;
}

int wire_skip_question(const uint8_t *msg, size_t len, size_t *pos, unsigned qdcount)
{
	uint8_t name[DNAME_MAXLEN];

	for (unsigned i = 0; i < qdcount; i++) {
		int n = wire_name_read_any(msg, len, pos, name);

		if (n < 0)
			return n;
		if (*pos + 4 > len)
			return CAR_EMALF;
		*pos += 4;
	}
	return CAR_EOK;
}

void wire_put_rr(struct wire_buf *b, const uint8_t *owner, uint16_t type, uint16_t rclass,
		 uint32_t ttl, const uint8_t *rd, uint16_t rdlen)
{
	wire_put_name(b, owner, true);
	wire_put_u16(b, type);
	wire_put_u16(b, rclass);
	wire_put_u32(b, ttl);
	size_t at = b->len;

	wire_put_u16(b, 0);
	switch (type) {
	case TYPE_NS:
	case TYPE_CNAME:
	case TYPE_PTR:
		wire_put_name(b, rd, true);
		break;
	case TYPE_MX:
		wire_put_bytes(b, rd, 2);
		wire_put_name(b, rd + 2, true);
		break;
	case TYPE_SOA: {
		size_t l1 = dname_len(rd), l2 = dname_len(rd + l1);

		wire_put_name(b, rd, true);
		wire_put_name(b, rd + l1, true);
		wire_put_bytes(b, rd + l1 + l2, 20);
		break;
	}
	case TYPE_SRV:
		wire_put_bytes(b, rd, 6);
		wire_put_name(b, rd + 6, false); /* RFC 2782: never compressed */
		break;
	case TYPE_DNAME:
		wire_put_name(b, rd, false); /* RFC 6672 2.5 */
		break;
	default:
		wire_put_bytes(b, rd, rdlen);
	}
	if (!b->err)
		wire_write16(b->wire + at, (uint16_t)(b->len - at - 2));
}

void wire_opt_add(struct wire_buf *b, size_t opt_off, uint16_t code, const void *data,
		  uint16_t len)
{
	wire_put_u16(b, code);
	wire_put_u16(b, len);
	wire_put_bytes(b, data, len);
	if (!b->err)
		wire_write16(b->wire + opt_off + 9,
			     (uint16_t)(wire_read16(b->wire + opt_off + 9) + 4 + len));
}

void wire_opt_add_ede(struct wire_buf *b, size_t opt_off, uint16_t info, const char *text)
{
	size_t tl = text ? strnlen(text, 63) : 0;

	wire_put_u16(b, 15); /* EDE */
	wire_put_u16(b, (uint16_t)(2 + tl));
	wire_put_u16(b, info);
	wire_put_bytes(b, text, tl);
	if (!b->err)
		wire_write16(b->wire + opt_off + 9,
			     (uint16_t)(wire_read16(b->wire + opt_off + 9) + 6 + tl));
}
