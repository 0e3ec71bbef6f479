/* wire.h -- DNS message codec (RFC 1035 4, RFC 6891): bounds-checked query
 * parser and a response builder with name compression. No allocation. */
#ifndef CAROUSEL_WIRE_H
#define CAROUSEL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dname.h"

enum car_err {
	CAR_EOK = 0,
	CAR_EMALF = -1,  /* malformed input */
	CAR_ESPACE = -2, /* output buffer full */
	CAR_ELIMIT = -3, /* a parsing work limit was hit (RFC 9267) */
	CAR_EINVAL = -4, /* bad argument */
};

#define WIRE_HDR_LEN 12
#define WIRE_UDP_MIN 512      /* RFC 1035 4.2.1 */
#define WIRE_EDNS_UDP 1232    /* our advertised and maximum UDP payload */
#define WIRE_TCP_MAX 65535
#define WIRE_PTR_HOPS 16      /* compression pointers followed per name */
#define WIRE_MAX_ADDITIONAL 4 /* RRs parsed in a query's additional section */
#define WIRE_OPT_RR_LEN 11    /* root owner, type, class, ttl, rdlength */
#define WIRE_OPT_ECS 8        /* EDNS Client Subnet option code (RFC 7871) */

/* Header flags (RFC 1035 4.1.1) */
#define WIRE_QR 0x8000
#define WIRE_AA 0x0400
#define WIRE_TC 0x0200
#define WIRE_RD 0x0100
#define WIRE_RA 0x0080
#define WIRE_Z 0x0040
#define WIRE_AD 0x0020
#define WIRE_CD 0x0010
#define WIRE_OPCODE(flags) (((flags) >> 11) & 0xf)
#define WIRE_EDNS_DO 0x8000

enum wire_rcode {
	RCODE_NOERROR = 0,
	RCODE_FORMERR = 1,
	RCODE_SERVFAIL = 2,
	RCODE_NXDOMAIN = 3,
	RCODE_NOTIMP = 4,
	RCODE_REFUSED = 5,
	RCODE_BADVERS = 16, /* RFC 6891 9: extended rcode, needs OPT */
};

enum wire_type {
	TYPE_A = 1,
	TYPE_NS = 2,
	TYPE_CNAME = 5,
	TYPE_SOA = 6,
	TYPE_PTR = 12,
	TYPE_HINFO = 13,
	TYPE_MX = 15,
	TYPE_TXT = 16,
	TYPE_AAAA = 28,
	TYPE_SRV = 33,
	TYPE_DNAME = 39,
	TYPE_OPT = 41,
	TYPE_RRSIG = 46,
	TYPE_IXFR = 251,
	TYPE_AXFR = 252,
	TYPE_MAILB = 253,
	TYPE_MAILA = 254,
	TYPE_ANY = 255,
};

#define CLASS_IN 1

static inline uint16_t wire_read16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t wire_read32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void wire_write16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wire_write32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* What the parser decided about a query. */
enum wire_verdict {
	WIRE_ANSWER,  /* well-formed: answer it */
	WIRE_DROP,    /* no reply: header unreadable or QR set (a response) */
	WIRE_FORMERR, /* reply FORMERR (question echoed when question_ok) */
	WIRE_NOTIMP,  /* opcode other than QUERY */
	WIRE_BADVERS, /* EDNS version other than 0 */
};

struct wire_query {
	uint16_t id;
	uint16_t flags;
	uint16_t qdcount, ancount, nscount, arcount;
	uint8_t qname[DNAME_MAXLEN]; /* lower-cased, uncompressed */
	uint8_t qname_len;
	uint16_t qtype;
	uint16_t qclass;
	uint16_t question_end; /* offset just past the question */
	bool question_ok;      /* the question can be echoed */
	bool has_edns;
	uint8_t edns_version;
	uint16_t edns_udp;     /* client's advertised payload size */
	uint16_t edns_flags;   /* only DO is ever echoed */
	uint16_t edns_options; /* how many options the OPT carried */
	uint16_t cookie_off;   /* COOKIE option data (RFC 7873), offset in the query */
	uint16_t cookie_len;   /* 0: none */
	uint8_t ecs_family;    /* EDNS Client Subnet (RFC 7871): 0 none, 1 IPv4, 2 IPv6 */
	uint8_t ecs_source;    /* SOURCE PREFIX-LENGTH */
	uint8_t ecs_addr[16];  /* the address, zero beyond the prefix */
};

/* Parse a query. Every byte read is checked against len. */
enum wire_verdict wire_query_parse(const uint8_t *pkt, size_t len, struct wire_query *q);

/* Read a possibly compressed name at *pos into out (uncompressed, case
 * kept). Pointers must point strictly backwards, never into the header, and
 * at most WIRE_PTR_HOPS are followed. *pos moves past the name as it appears
 * at that place. Returns the name's length or CAR_EMALF / CAR_ELIMIT. */
int wire_name_read(const uint8_t *pkt, size_t len, size_t *pos, uint8_t *out);
/* The same for names in responses, where a pointer may also target the
 * header region's neighbourhood: only "strictly backwards" is required. */
int wire_name_read_any(const uint8_t *pkt, size_t len, size_t *pos, uint8_t *out);

/* Response builder. Writers set a sticky error; check b->err once. */
#define WIRE_COMP_MAX 64
struct wire_buf {
	uint8_t *wire;
	size_t len;
	size_t max;
	int err;
	unsigned ncomp;
	uint16_t comp[WIRE_COMP_MAX]; /* offsets of names written, for compression */
	/* the last name compressed and where its pointer went: the same
	 * name again (a pool's records) points there without a search */
	uint8_t last_len; /* 0: none */
	uint16_t last_ptr;
	uint8_t last[DNAME_MAXLEN];
};

/* A point to roll back to when an RRset does not fit. */
struct wire_mark {
	size_t len;
	unsigned ncomp;
};

/* The writers: inline, as every record takes several of them. */
static inline void wire_buf_init(struct wire_buf *b, uint8_t *wire, size_t max)
{
	b->wire = wire;
	b->len = 0;
	b->max = max;
	b->err = CAR_EOK;
	b->ncomp = 0;
	b->last_len = 0;
}

static inline void wire_put_bytes(struct wire_buf *b, const void *src, size_t n)
{
	if (b->err)
		return;
	if (b->max - b->len < n) {
		b->err = CAR_ESPACE;
		return;
	}
	memcpy(b->wire + b->len, src, n);
	b->len += n;
}

static inline void wire_put_u8(struct wire_buf *b, uint8_t v)
{
	wire_put_bytes(b, &v, 1);
}

static inline void wire_put_u16(struct wire_buf *b, uint16_t v)
{
	uint8_t x[2];

	wire_write16(x, v);
	wire_put_bytes(b, x, 2);
}

static inline void wire_put_u32(struct wire_buf *b, uint32_t v)
{
	uint8_t x[4];

	wire_write32(x, v);
	wire_put_bytes(b, x, 4);
}

/* Write name (uncompressed wire form); compress against names written
 * before when compress is set; remember its labels for later names. */
void wire_put_name(struct wire_buf *b, const uint8_t *name, bool compress);
/* Remember a name already in the buffer at off (e.g. the question). */
void wire_buf_remember(struct wire_buf *b, size_t off);

static inline struct wire_mark wire_buf_mark(const struct wire_buf *b)
{
	return (struct wire_mark){.len = b->len, .ncomp = b->ncomp};
}

static inline void wire_buf_rollback(struct wire_buf *b, struct wire_mark m)
{
	b->len = m.len;
	b->ncomp = m.ncomp;
	b->err = CAR_EOK;
	b->last_len = 0; /* its pointer may point past the end now */
}

/* Start a reply: header with the query's ID, opcode, RD and CD, and the
 * question copied with the client's case (when the query had one). */
void wire_reply_begin(struct wire_buf *b, const uint8_t *query, const struct wire_query *q);
void wire_set_rcode(uint8_t *wire, unsigned rcode);
/* Append our OPT RR (RFC 6891 6.1.2): UDP size WIRE_EDNS_UDP, version 0, the
 * upper bits of rcode, DO when the query had it, no options. */
void wire_put_opt(struct wire_buf *b, unsigned rcode, bool dnssec_ok);
/* RFC 7871 6: an ECS option's data (olen bytes) is well formed: family 1
 * or 2, SOURCE PREFIX-LENGTH within it, SCOPE 0, exactly the address bytes
 * the prefix needs, no bits set beyond it. */
bool wire_ecs_valid(const uint8_t *o, size_t olen);

/* Append an option to the OPT RR written at opt_off. */
void wire_opt_add(struct wire_buf *b, size_t opt_off, uint16_t code, const void *data,
		  uint16_t len);
/* Append an Extended DNS Error (RFC 8914) to the OPT RR written at opt_off;
 * text is cut at 63 bytes. */
void wire_opt_add_ede(struct wire_buf *b, size_t opt_off, uint16_t info, const char *text);


/* One resource record of a message, names decompressed (owner, and the
 * names inside RDATA of the types RFC 3597 4 lets be compressed, plus SRV
 * and DNAME), ready to be written again with our compression. */
struct wire_rr {
	uint8_t owner[DNAME_MAXLEN];
	uint16_t type, rclass;
	uint32_t ttl;
	uint16_t rdlen;
	uint8_t rdata[WIRE_TCP_MAX]; /* decompressed: may be longer than on the wire */
};

/* Read the RR at *pos of a message (any message: responses too; pointers
 * may point anywhere before themselves). Returns CAR_EOK, CAR_EMALF or
 * CAR_ELIMIT. */
int wire_rr_read(const uint8_t *msg, size_t len, size_t *pos, struct wire_rr *rr);

/* Skip the question section (qdcount entries) at *pos. */
int wire_skip_question(const uint8_t *msg, size_t len, size_t *pos, unsigned qdcount);

/* Write an RR: owner and RDATA names compressed where RFC 3597 allows. */
void wire_put_rr(struct wire_buf *b, const uint8_t *owner, uint16_t type, uint16_t rclass,
		 uint32_t ttl, const uint8_t *rdata, uint16_t rdlen);

#endif
