/*
 * Reading captures with libpcap, which knows pcap, pcapng, both byte orders
 * and nanosecond files (read here with microsecond precision, as tcpdump does).
 */
#define _DEFAULT_SOURCE /* libpcap's headers use the BSD u_char types */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pcap_reader.h"

struct pcap_reader {
	pcap_t *p;
};

struct pcap_reader *pcap_reader_open(const char *path, char *why, size_t why_len)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct pcap_reader *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	r->p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
	struct stat st;
	if (!r->p && stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0) {
		snprintf(why, why_len, "%s: empty file, not a capture", path);
		free(r);
		return NULL;
	}
	if (!r->p) {
		/* libpcap names the file in some reasons and not in others. */
		if (strstr(errbuf, path))
			snprintf(why, why_len, "%s", errbuf);
		else
			snprintf(why, why_len, "%s: %s", path, errbuf);
		free(r);
		return NULL;
	}
	return r;
}

int pcap_reader_linktype(const struct pcap_reader *r)
{
	return pcap_datalink(r->p);
}

const char *pcap_reader_linktype_name(const struct pcap_reader *r, char *buf, size_t len)
{
	int dlt = pcap_datalink(r->p);
	const char *name = pcap_datalink_val_to_name(dlt);
	const char *desc = pcap_datalink_val_to_description(dlt);
	if (name)
		snprintf(buf, len, "%s (%s)", name, desc ? desc : "?");
	else
		snprintf(buf, len, "%d", dlt);
	return buf;
}

int pcap_reader_next(struct pcap_reader *r, struct pcap_packet *pkt, char *why, size_t why_len)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc = pcap_next_ex(r->p, &h, &data);
	if (rc == 1) {
		pkt->sec = h->ts.tv_sec;
		pkt->usec = (uint32_t)h->ts.tv_usec;
		pkt->data = data;
		pkt->caplen = h->caplen;
		pkt->wirelen = h->len;
		return 1;
	}
	if (rc == PCAP_ERROR_BREAK)
		return 0;
	snprintf(why, why_len, "%s", pcap_geterr(r->p));
	return -1;
}

void pcap_reader_close(struct pcap_reader *r)
{
	if (!r)
		return;
	pcap_close(r->p);
	free(r);
}
