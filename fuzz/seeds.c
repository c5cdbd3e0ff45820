/*
 * Writes the seed corpora of the stack's fuzz targets:
 *   OUTDIR/listen  handshakes for fuzz_listen: SYNs with the usual options,
 *                  then the third segment to the SYN-ACK the stack sent (a
 *                  valid cookie ACK, computed through the stack at run time),
 *                  in every SYN cookie mode, for IPv4 and IPv6;
 *   OUTDIR/conn    for fuzz_conn: data both ways, SACK, out of order, close;
 *   OUTDIR/frag    for fuzz_frag: datagrams cut in order and overlapping,
 *                  and every IP packet of the captures as a raw packet;
 *   OUTDIR/tcp-opt for fuzz_tcp_opt: the options area of every TCP segment
 *                  of the captures.
 * Each file's bytes follow the target's input format (see each target).
 *
 * usage: seeds OUTDIR FILE.pcap...
 */
#define _DEFAULT_SOURCE
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

struct seed {
	uint8_t b[4096];
	size_t n;
};

static void put(struct seed *s, const void *p, size_t n)
{
	if (s->n + n <= sizeof(s->b)) {
		memcpy(s->b + s->n, p, n);
		s->n += n;
	}
}

static void put8(struct seed *s, uint8_t v) { put(s, &v, 1); }

static void put16(struct seed *s, uint16_t v)
{
	put8(s, (uint8_t)(v >> 8));
	put8(s, (uint8_t)v);
}

static void put32(struct seed *s, uint32_t v)
{
	put16(s, (uint16_t)(v >> 16));
	put16(s, (uint16_t)v);
}

static unsigned written;

static int save(const char *dir, const char *name, const struct seed *s)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(s->b, 1, s->n, f) != s->n || fclose(f)) {
		perror(path);
		return -1;
	}
	written++;
	return 0;
}

/* MSS 1460, SACK-permitted, timestamps, window scale 7: what Linux offers. */
static const uint8_t syn_opts[20] = { 2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0x10, 0, 0, 0, 0, 0, 1, 3, 3, 7 };

/* fuzz_listen: op 0 SYN (flow, how, seq, wnd, options), op 1 third segment (flow, how, wnd, TSval). */
static void listen_syn(struct seed *s, uint8_t flow, uint32_t seq, size_t opt_len)
{
	put8(s, 0);
	put8(s, flow);
	put8(s, 0);
	put32(s, seq);
	put16(s, 65535);
	put8(s, (uint8_t)opt_len);
	put(s, syn_opts, opt_len);
}

static void listen_third(struct seed *s, uint8_t flow, bool data)
{
	put8(s, 1);
	put8(s, flow);
	put8(s, data ? 0x20 : 0);
	put16(s, 65535);
	put32(s, 0x1001);   /* TSval, when timestamps are on */
	if (data) {
		put8(s, 16);
		put(s, "GET / HTTP/1.0\r\n", 16);
	}
}

static int listen_seeds(const char *dir)
{
	/* Configuration bytes: cookies always / on overflow / off; options off; backlogs. */
	static const uint8_t confs[] = { 0x00, 0x01, 0x03, 0x04, 0x0c, 0x1c, 0x61, 0x80 };
	static const size_t opt_lens[] = { 20, 4, 0 };
	char name[64];
	for (size_t c = 0; c < sizeof(confs); c++) {
		for (size_t o = 0; o < 3; o++) {
			for (uint8_t fam = 0; fam < 2; fam++) {
				struct seed s = { .n = 0 };
				put8(&s, confs[c]);
				/* Three SYNs (the last ones overflow a backlog of 1), then their third segments. */
				for (uint8_t i = 0; i < 3; i++)
					listen_syn(&s, (uint8_t)(fam | i << 3), 0xfffffff0u + i, opt_lens[o]);
				for (uint8_t i = 0; i < 3; i++)
					listen_third(&s, (uint8_t)(fam | i << 3), i == 1);
				put8(&s, 3);   /* accept, read, close */
				put8(&s, 0x00);
				put8(&s, 3);
				put8(&s, 0x01);
				put8(&s, 3);
				put8(&s, 0x03);
				put8(&s, 2);   /* time: the SYN-ACKs go again */
				put8(&s, 0xff);
				snprintf(name, sizeof(name), "handshake-%zu-%zu-%u", c, o, fam);
				if (save(dir, name, &s))
					return -1;
			}
		}
	}
	return 0;
}

/* fuzz_conn: op 0 segment (how, dseq, [flags], dack, [wnd], [SACK], len), op 3 app call. */
static void conn_segment(struct seed *s, uint8_t how, uint16_t dseq, uint8_t flags, uint8_t dack, uint8_t len)
{
	put8(s, 0);
	put8(s, how);
	put16(s, dseq);
	if (how & 4)
		put8(s, flags);
	put8(s, dack);
	if (how & 0x20)
		put16(s, 0);
	if (how & 0x80) {
		put8(s, 0);
		put16(s, 100);
		put16(s, 50);
	}
	put8(s, len);
}

static void conn_app(struct seed *s, uint8_t call, uint8_t arg)
{
	put8(s, 3);
	put8(s, call);
	put8(s, arg);
}

static int conn_seeds(const char *dir)
{
	static const uint8_t confs[] = { 0x0e, 0x00, 0x06, 0x8f, 0x7e };
	char name[64];
	for (size_t c = 0; c < sizeof(confs); c++) {
		struct seed s = { .n = 0 };
		put8(&s, confs[c]);
		conn_segment(&s, 0x08, 0, 0, 0, 100);           /* 800 bytes in order */
		conn_app(&s, 0x00, 0xff);                        /* read them */
		conn_app(&s, 0x02, 0x40);                        /* write 2,048 */
		conn_segment(&s, 0x02, 1448, 0, 0, 50);          /* out of order */
		conn_segment(&s, 0x80, 0, 0, 0, 0);              /* SACK */
		conn_segment(&s, 0x00, 0, 0, 0, 181);            /* fills the hole */
		put8(&s, 2);                                     /* time */
		put8(&s, 0x80);
		conn_app(&s, 0x01, 0xff);
		conn_segment(&s, 0x24, 0, 0x10, 0, 0);           /* the peer's window closes */
		conn_app(&s, 0x03, 0x80);
		put8(&s, 0x52);                                  /* time: zero-window probes */
		put8(&s, 0xff);
		conn_segment(&s, 0x04, 0, 0x11, 0, 0);           /* FIN */
		conn_app(&s, 0x06, 0);                           /* close */
		snprintf(name, sizeof(name), "transfer-%zu", c);
		if (save(dir, name, &s))
			return -1;
	}
	return 0;
}

/* fuzz_frag: op 0 a datagram (family/id/pieces, kind, length, ..., cuts). */
static int frag_datagram_seeds(const char *dir)
{
	char name[64];
	for (uint8_t fam = 0; fam < 2; fam++) {
		for (uint8_t kind = 0; kind < 4; kind++) {
			struct seed s = { .n = 0 };
			/* In order, in 3 pieces; then overlapping pieces; then a lone middle piece. */
			put8(&s, 0);
			put8(&s, (uint8_t)(fam | 2u << 3));
			put8(&s, kind);
			put8(&s, 40);
			if (kind & 1)
				put16(&s, 1);
			else
				put32(&s, 1000);
			for (int i = 0; i < 3; i++)
				put8(&s, 0x80);
			put8(&s, 0);
			put8(&s, (uint8_t)(fam | 1u << 3 | 1u << 1));
			put8(&s, kind);
			put8(&s, 40);
			if (kind & 1)
				put16(&s, 2);
			else
				put32(&s, 2000);
			put8(&s, 0x05);
			put8(&s, 0);
			put8(&s, 0x05);
			put8(&s, 3);
			put8(&s, 2);   /* time: reassembly gives up */
			put8(&s, 0xff);
			snprintf(name, sizeof(name), "datagram-%u-%u", fam, kind);
			if (save(dir, name, &s))
				return -1;
		}
	}
	return 0;
}

/* The IP packet in a captured frame, by the capture's link type; NULL if none. */
static const uint8_t *ip_of(int dlt, const uint8_t *p, size_t len, size_t *ip_len)
{
	size_t off = dlt == DLT_EN10MB ? 14 : dlt == DLT_LINUX_SLL ? 16 : dlt == 276 ? 20 : 0;
	if (len <= off)
		return NULL;
	*ip_len = len - off;
	return p + off;
}

static int capture_seeds(const char *frag_dir, const char *opt_dir, const char *path, unsigned idx)
{
	char errbuf[PCAP_ERRBUF_SIZE], name[64];
	pcap_t *p = pcap_open_offline(path, errbuf);
	if (!p) {
		fprintf(stderr, "seeds: %s\n", errbuf);
		return -1;
	}
	int dlt = pcap_datalink(p);
	struct pcap_pkthdr *h;
	const uint8_t *data;
	for (unsigned n = 0; pcap_next_ex(p, &h, &data) == 1 && n < 100; n++) {
		size_t len;
		const uint8_t *ip = ip_of(dlt, data, h->caplen, &len);
		if (!ip || len > 255)
			continue;
		/* fuzz_frag op 3: a raw packet. */
		struct seed s = { .n = 0 };
		put8(&s, 3);
		put8(&s, (uint8_t)len);
		put(&s, ip, len);
		snprintf(name, sizeof(name), "capture-%u-%u", idx, n);
		if (save(frag_dir, name, &s))
			goto fail;
		/* The TCP options area of an IPv4 or IPv6 segment without extension headers. */
		size_t hl = ip[0] >> 4 == 4 ? (size_t)(ip[0] & 15) * 4 : 40;
		uint8_t proto = ip[0] >> 4 == 4 ? ip[9] : ip[6];
		if (proto != 6 || len < hl + 20)
			continue;
		size_t doff = (size_t)(ip[hl + 12] >> 4) * 4;
		if (doff <= 20 || len < hl + doff)
			continue;
		struct seed o = { .n = 0 };
		put(&o, ip + hl + 20, doff - 20);
		if (save(opt_dir, name, &o))
			goto fail;
	}
	pcap_close(p);
	return 0;
fail:
	pcap_close(p);
	return -1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: seeds OUTDIR FILE.pcap...\n");
		return 2;
	}
	static const char *const sub[] = { "listen", "conn", "frag", "tcp-opt" };
	char dirs[4][4096];
	mkdir(argv[1], 0777);
	for (int i = 0; i < 4; i++) {
		snprintf(dirs[i], sizeof(dirs[i]), "%s/%s", argv[1], sub[i]);
		mkdir(dirs[i], 0777);
	}
	if (listen_seeds(dirs[0]) || conn_seeds(dirs[1]) || frag_datagram_seeds(dirs[2]))
		return 1;
	for (int i = 2; i < argc; i++)
		if (capture_seeds(dirs[2], dirs[3], argv[i], (unsigned)i))
			return 1;
	printf("seeds: %u seeds in %s\n", written, argv[1]);
	return 0;
}
