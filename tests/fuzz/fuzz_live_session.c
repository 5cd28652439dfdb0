/*
 * libFuzzer target for live-session records read back from Redis
 * (authd/live_sessions.h): live_session_parse() on any bytes. Every text
 * field must come out NUL-terminated within its size and free of control
 * bytes (they end up in Disconnect-Requests and the helpdesk's output).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authd/live_sessions.h"

static void check_text(const char *field, size_t size)
{
	size_t n = strnlen(field, size);

	if (n == size)
		abort();
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)field[i] < 0x20 || field[i] == 0x7f)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct live_session s;

	live_session_parse((const char *)data, size, &s);
	check_text(s.nas, sizeof(s.nas));
	check_text(s.nas_addr, sizeof(s.nas_addr));
	check_text(s.nas_identifier, sizeof(s.nas_identifier));
	check_text(s.nas_ip_address, sizeof(s.nas_ip_address));
	check_text(s.nas_ipv6_address, sizeof(s.nas_ipv6_address));
	check_text(s.user_name, sizeof(s.user_name));
	check_text(s.acct_session_id, sizeof(s.acct_session_id));
	check_text(s.calling_station_id, sizeof(s.calling_station_id));
	check_text(s.called_station_id, sizeof(s.called_station_id));
	check_text(s.identity, sizeof(s.identity));
	return 0;
}
