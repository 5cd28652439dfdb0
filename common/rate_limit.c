#include "common/rate_limit.h"

#include "common/clock.h"

void rate_limit_init(struct rate_limit *l, unsigned per_second)
{
	l->per_second = per_second;
	atomic_init(&l->second, 0);
	atomic_init(&l->count, 0);
	atomic_init(&l->suppressed, 0);
}

bool rate_limit_allow(struct rate_limit *l, unsigned *suppressed)
{
	long long now = (long long)(clock_now_ms() / 1000), second = atomic_load(&l->second);
	unsigned held;

	if (second != now && atomic_compare_exchange_strong(&l->second, &second, now))
		atomic_store(&l->count, 0);
	if (atomic_fetch_add(&l->count, 1) >= l->per_second) {
		atomic_fetch_add(&l->suppressed, 1);
		return false;
	}
	held = atomic_exchange(&l->suppressed, 0);
	if (suppressed != NULL)
		*suppressed = held;
	return true;
}
