/*
 * Reading pcap and pcapng files through libpcap.
 */
#ifndef THREEWAY_PCAP_READER_H
#define THREEWAY_PCAP_READER_H

#include <stddef.h>
#include <stdint.h>

struct pcap_reader;

struct pcap_packet {
	int64_t sec;
	uint32_t usec;
	const uint8_t *data;      /* valid until the next read */
	size_t caplen, wirelen;
};

/* Opens a capture; NULL with a one-line reason in `why`. */
struct pcap_reader *pcap_reader_open(const char *path, char *why, size_t why_len);
int pcap_reader_linktype(const struct pcap_reader *r);
/* "EN10MB (Ethernet)" */
const char *pcap_reader_linktype_name(const struct pcap_reader *r, char *buf, size_t len);
/* 1: a packet; 0: end of file; -1: error, with a one-line reason in `why`. */
int pcap_reader_next(struct pcap_reader *r, struct pcap_packet *pkt, char *why, size_t why_len);
void pcap_reader_close(struct pcap_reader *r);

#endif
