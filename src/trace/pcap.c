/*
 * Writes classic pcap files (microsecond timestamps, version 2.4), the format
 * every capture tool reads. Used for the stack's own traffic (--pcap).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "threeway.h"

#define PCAP_MAGIC_USEC 0xa1b2c3d4u
#define PCAP_SNAPLEN 262144u

struct tw_pcap {
	FILE *f;
};

/* pcap files are written in the writer's byte order; this one writes little-endian, always. */
static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
}

static int write_all(FILE *f, const void *buf, size_t len)
{
	if (fwrite(buf, 1, len, f) != len)
		return errno ? -errno : -EIO;
	return 0;
}

struct tw_pcap *tw_pcap_create(const char *path, int linktype, int *err)
{
	int dummy;
	if (!err)
		err = &dummy;
	if (!path || linktype < 0) {
		*err = -EINVAL;
		return NULL;
	}
	struct tw_pcap *p = calloc(1, sizeof(*p));
	if (!p) {
		*err = -ENOMEM;
		return NULL;
	}
	errno = 0;
	p->f = fopen(path, "wb");
	if (!p->f) {
		*err = errno ? -errno : -EIO;
		free(p);
		return NULL;
	}
	uint8_t hdr[24];
	put_le32(hdr, PCAP_MAGIC_USEC);
	put_le16(hdr + 4, 2);
	put_le16(hdr + 6, 4);
	put_le32(hdr + 8, 0);   /* thiszone */
	put_le32(hdr + 12, 0);  /* sigfigs */
	put_le32(hdr + 16, PCAP_SNAPLEN);
	put_le32(hdr + 20, (uint32_t)linktype);
	*err = write_all(p->f, hdr, sizeof(hdr));
	if (*err) {
		fclose(p->f);
		free(p);
		return NULL;
	}
	return p;
}

int tw_pcap_write(struct tw_pcap *p, int64_t sec, uint32_t usec, const uint8_t *pkt, size_t len)
{
	if (!p || (!pkt && len) || sec < 0 || sec > UINT32_MAX || usec >= 1000000)
		return -EINVAL;
	uint32_t caplen = len > PCAP_SNAPLEN ? PCAP_SNAPLEN : (uint32_t)len;
	uint8_t rec[16];
	put_le32(rec, (uint32_t)sec);
	put_le32(rec + 4, usec);
	put_le32(rec + 8, caplen);
	put_le32(rec + 12, len > UINT32_MAX ? UINT32_MAX : (uint32_t)len);
	int err = write_all(p->f, rec, sizeof(rec));
	if (!err && caplen)
		err = write_all(p->f, pkt, caplen);
	return err;
}

int tw_pcap_close(struct tw_pcap *p)
{
	if (!p)
		return 0;
	errno = 0;
	int err = 0;
	if (fflush(p->f) != 0)
		err = errno ? -errno : -EIO;
	if (fclose(p->f) != 0 && !err)
		err = errno ? -errno : -EIO;
	free(p);
	return err;
}
