/*
 * The trace's output queue against a real pipe: what the pipe takes is
 * written at once, the rest waits in order, an item that does not fit is
 * dropped whole and counted, and a reader that goes away turns everything
 * waiting and everything after into counted drops.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "outq.h"

#define PIPE_BYTES 8192   /* two pages: a write may go in part */

struct fixture {
	int rd, wr;
	struct outq q;
};

/* A pipe of two pages whose write end does not block, and a queue of `cap` bytes and `items` items on it. */
static void open_fixture(struct fixture *f, size_t cap, size_t items)
{
	int fds[2];
	assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
	assert_int_equal(fcntl(fds[1], F_SETPIPE_SZ, PIPE_BYTES), PIPE_BYTES);
	f->rd = fds[0];
	f->wr = fds[1];
	assert_int_equal(outq_init(&f->q, f->wr, cap, items), 0);
}

static void close_fixture(struct fixture *f)
{
	outq_fini(&f->q);
	if (f->rd >= 0)
		close(f->rd);
	close(f->wr);
}

/* Fills the pipe to leave `room` bytes. */
static void fill_pipe(struct fixture *f, size_t room)
{
	static char junk[PIPE_BYTES];
	memset(junk, '#', sizeof(junk));
	assert_int_equal(write(f->wr, junk, PIPE_BYTES - room), (ssize_t)(PIPE_BYTES - room));
}

/* Everything in the pipe, NUL-terminated. */
static size_t drain_pipe(struct fixture *f, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;
	while (got + 1 < cap && (n = read(f->rd, buf + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	return got;
}

static bool put(struct fixture *f, const char *text) { return outq_put(&f->q, text, strlen(text)); }

static void test_outq_writes_through_when_the_pipe_has_room(void **state)
{
	(void)state;
	struct fixture f;
	char buf[256];
	open_fixture(&f, 128, 8);
	assert_true(put(&f, "one line\n"));
	assert_true(put(&f, "two\nlines\n"));
	assert_int_equal(outq_items(&f.q), 0);
	assert_int_equal(drain_pipe(&f, buf, sizeof(buf)), 19);
	assert_string_equal(buf, "one line\ntwo\nlines\n");
	assert_int_equal(f.q.dropped, 0);
	close_fixture(&f);
}

/* A full pipe: items wait in order; one that does not fit in the rest of the queue is dropped whole. */
static void test_outq_full_pipe_queues_then_drops_whole_items(void **state)
{
	(void)state;
	struct fixture f;
	char buf[PIPE_BYTES + 256];
	open_fixture(&f, 100, 8);
	fill_pipe(&f, 0);
	static const char item[] = "0123456789012345678901234567\n";   /* 29 bytes */
	assert_true(put(&f, item));
	assert_true(put(&f, item));
	assert_true(put(&f, item));
	assert_false(put(&f, item));          /* 87 queued, 13 free */
	assert_true(put(&f, "short one\n"));  /* 10 fit */
	assert_int_equal(outq_items(&f.q), 4);
	assert_int_equal(f.q.dropped, 1);
	assert_int_equal(outq_flush(&f.q), 1);
	assert_int_equal(drain_pipe(&f, buf, sizeof(buf)), PIPE_BYTES);
	assert_int_equal(outq_flush(&f.q), 0);
	assert_int_equal(outq_items(&f.q), 0);
	drain_pipe(&f, buf, sizeof(buf));
	char want[256];
	snprintf(want, sizeof(want), "%s%s%sshort one\n", item, item, item);
	assert_string_equal(buf, want);
	close_fixture(&f);
}

/* The pipe takes part of an item: the rest of it waits and follows, and it still counts as waiting. */
static void test_outq_partly_written_item_finishes(void **state)
{
	(void)state;
	struct fixture f;
	static char buf[PIPE_BYTES + 256], item[5001];
	open_fixture(&f, 8192, 8);
	fill_pipe(&f, 4096);   /* one page free */
	for (size_t i = 0; i < 5000; i++)
		item[i] = (char)('a' + i % 26);
	item[4999] = '\n';
	assert_true(put(&f, item));
	assert_int_equal(outq_items(&f.q), 1);
	assert_int_equal(drain_pipe(&f, buf, sizeof(buf)), PIPE_BYTES);
	assert_memory_equal(buf + 4096, item, 4096);
	assert_int_equal(outq_flush(&f.q), 0);
	assert_int_equal(outq_items(&f.q), 0);
	assert_int_equal(drain_pipe(&f, buf, sizeof(buf)), 5000 - 4096);
	assert_string_equal(buf, item + 4096);
	close_fixture(&f);
}

/* Items of many sizes through a 64-byte ring while the pipe is drained now and then: the stream is intact. */
static void test_outq_ring_wraps_around(void **state)
{
	(void)state;
	struct fixture f;
	static char want[1 << 16], got[1 << 16];
	size_t want_len = 0, got_len = 0;
	open_fixture(&f, 64, 16);
	fill_pipe(&f, 0);
	char junk[PIPE_BYTES + 1];
	assert_int_equal(drain_pipe(&f, junk, sizeof(junk)), PIPE_BYTES);
	fill_pipe(&f, 0);
	bool junk_left = true;
	for (unsigned i = 0; i < 2000; i++) {
		char item[64];
		size_t n = 1 + (i * 7) % 40;
		for (size_t k = 0; k + 1 < n; k++)
			item[k] = (char)('a' + (i + k) % 26);
		item[n - 1] = '\n';
		if (outq_put(&f.q, item, n)) {
			memcpy(want + want_len, item, n);
			want_len += n;
		}
		if (i % 5 == 4) {
			if (junk_left) {
				assert_int_equal(drain_pipe(&f, junk, sizeof(junk)), PIPE_BYTES);
				junk_left = false;
			}
			outq_flush(&f.q);
			got_len += drain_pipe(&f, got + got_len, sizeof(got) - got_len);
		}
	}
	while (outq_flush(&f.q) > 0)
		got_len += drain_pipe(&f, got + got_len, sizeof(got) - got_len);
	got_len += drain_pipe(&f, got + got_len, sizeof(got) - got_len);
	assert_true(f.q.dropped > 0);
	assert_true(want_len > 1000);
	assert_int_equal(got_len, want_len);
	assert_memory_equal(got, want, want_len);
	close_fixture(&f);
}

/* At most `max_items` wait, whatever room the bytes leave. */
static void test_outq_item_limit(void **state)
{
	(void)state;
	struct fixture f;
	open_fixture(&f, 1024, 2);
	fill_pipe(&f, 0);
	assert_true(put(&f, "a\n"));
	assert_true(put(&f, "b\n"));
	assert_false(put(&f, "c\n"));
	assert_int_equal(f.q.dropped, 1);
	outq_discard(&f.q);
	assert_int_equal(f.q.dropped, 3);
	assert_int_equal(outq_items(&f.q), 0);
	close_fixture(&f);
}

/* The reader goes away: what waits is dropped and counted, and so is everything after. */
static void test_outq_reader_gone(void **state)
{
	(void)state;
	struct fixture f;
	open_fixture(&f, 1024, 16);
	fill_pipe(&f, 0);
	assert_true(put(&f, "a\n"));
	assert_true(put(&f, "b\n"));
	close(f.rd);
	f.rd = -1;
	assert_int_equal(outq_flush(&f.q), -EPIPE);
	assert_int_equal(f.q.dropped, 2);
	assert_int_equal(outq_items(&f.q), 0);
	assert_false(put(&f, "c\n"));
	assert_int_equal(f.q.dropped, 3);
	assert_int_equal(outq_flush(&f.q), -EPIPE);
	close_fixture(&f);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outq_writes_through_when_the_pipe_has_room),
		cmocka_unit_test(test_outq_full_pipe_queues_then_drops_whole_items),
		cmocka_unit_test(test_outq_partly_written_item_finishes),
		cmocka_unit_test(test_outq_ring_wraps_around),
		cmocka_unit_test(test_outq_item_limit),
		cmocka_unit_test(test_outq_reader_gone),
	};
	return cmocka_run_group_tests_name("outq", tests, NULL, NULL);
}
