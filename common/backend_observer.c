#include "common/backend_observer.h"

#include <stddef.h>

#include "common/clock.h"

void backend_observer_report(const struct backend_observer *o, unsigned target, enum backend_result result,
                             double started_ms)
{
	if (o != NULL && o->call != NULL)
		o->call(o->arg, target, result, (clock_now_ms_precise() - started_ms) / 1000);
}
