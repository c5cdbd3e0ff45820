/*
 * Writes a libFuzzer seed corpus from pcap files: one file per packet, a
 * control byte (matching the capture's link type) followed by the packet.
 *
 * usage: seed_corpus OUTDIR FILE.pcap...
 */
#define _DEFAULT_SOURCE
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: seed_corpus OUTDIR FILE.pcap...\n");
		return 2;
	}
	unsigned written = 0;
	for (int i = 2; i < argc; i++) {
		char errbuf[PCAP_ERRBUF_SIZE];
		pcap_t *p = pcap_open_offline(argv[i], errbuf);
		if (!p) {
			fprintf(stderr, "seed_corpus: %s\n", errbuf);
			return 1;
		}
		/* The fuzz target's low two control bits: 0 raw IP, 1 Ethernet, 2 SLL, 3 SLL2. */
		int dlt = pcap_datalink(p);
		unsigned char control = dlt == DLT_EN10MB ? 1 : dlt == DLT_LINUX_SLL ? 2 : dlt == 276 ? 3 : 0;
		struct pcap_pkthdr *h;
		const unsigned char *data;
		unsigned n = 0;
		while (pcap_next_ex(p, &h, &data) == 1 && n < 200) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/seed-%u-%u", argv[1], (unsigned)i, n++);
			FILE *f = fopen(path, "wb");
			if (!f) {
				perror(path);
				pcap_close(p);
				return 1;
			}
			/* Vary the mode bits so every verbosity and -S is seeded. */
			unsigned char c = (unsigned char)(control | (n % 3) << 2 | (n & 1) << 4);
			fwrite(&c, 1, 1, f);
			fwrite(data, 1, h->caplen, f);
			fclose(f);
			written++;
		}
		pcap_close(p);
	}
	printf("seed_corpus: %u seeds in %s\n", written, argv[1]);
	return 0;
}
