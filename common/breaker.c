#include "common/breaker.h"

#include "common/clock.h"

void breaker_init(struct breaker *b, unsigned threshold, unsigned open_ms)
{
	b->threshold = threshold > 0 ? threshold : 1;
	b->open_ms = open_ms;
	atomic_init(&b->failures, 0);
	atomic_init(&b->open_until_ms, 0);
	atomic_init(&b->probing, false);
}

bool breaker_is_open(const struct breaker *b)
{
	unsigned long long until = atomic_load((atomic_ullong *)&b->open_until_ms);

	return until != 0 && clock_now_ms() < until;
}

unsigned breaker_retry_in_ms(const struct breaker *b)
{
	unsigned long long until = atomic_load((atomic_ullong *)&b->open_until_ms);
	uint64_t now = clock_now_ms();

	return until > now ? (unsigned)(until - now) : 0;
}

bool breaker_allow(struct breaker *b)
{
	bool idle = false;

	if (atomic_load(&b->open_until_ms) == 0)
		return true;
	if (breaker_is_open(b))
		return false;
	/* Due for a probe: exactly one caller gets it. */
	return atomic_compare_exchange_strong(&b->probing, &idle, true);
}

void breaker_record(struct breaker *b, bool ok, uint64_t started_ms, unsigned timeout_ms)
{
	if (!ok && clock_now_ms() - started_ms < timeout_ms / 2)
		ok = true;   /* quick failures are not worth skipping */
	if (ok) {
		atomic_store(&b->failures, 0);
		atomic_store(&b->open_until_ms, 0);
	} else if (atomic_fetch_add(&b->failures, 1) + 1 >= b->threshold) {
		atomic_store(&b->open_until_ms, clock_now_ms() + b->open_ms);
	}
	atomic_store(&b->probing, false);
}
