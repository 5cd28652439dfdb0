/*
 * Names interned for the process's life: a name keeps its index whatever is
 * interned after it, a full table refuses without a trace, and the room
 * check that a reload runs before interning counts what a config would add.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/name_table.h"

static size_t published(const struct name_table *t)
{
	return atomic_load_explicit(name_table_published(t), memory_order_acquire);
}

static void test_a_name_keeps_its_index(void **state)
{
	struct name_table *t = name_table_new(4);

	(void)state;
	assert_non_null(t);
	assert_int_equal(name_table_intern(t, ""), 0);
	assert_int_equal(name_table_intern(t, "sw-1"), 1);
	assert_int_equal(name_table_intern(t, "sw-2"), 2);
	/* Again, as a reload that keeps the client would. */
	assert_int_equal(name_table_intern(t, "sw-1"), 1);
	assert_int_equal(name_table_intern(t, ""), 0);
	assert_int_equal(published(t), 3);
	assert_string_equal(name_table_values(t)[1], "sw-1");
	assert_string_equal(name_table_values(t)[2], "sw-2");
	assert_int_equal(name_table_capacity(t), 4);
	assert_int_equal(name_table_room(t), 1);
	name_table_free(t);
}

static void test_a_full_table_refuses(void **state)
{
	struct name_table *t = name_table_new(2);

	(void)state;
	assert_int_equal(name_table_intern(t, "a"), 0);
	assert_int_equal(name_table_intern(t, "b"), 1);
	assert_int_equal(name_table_intern(t, "c"), -1);
	/* Refused without a trace, and what is there still answers. */
	assert_int_equal(published(t), 2);
	assert_int_equal(name_table_room(t), 0);
	assert_int_equal(name_table_intern(t, "b"), 1);
	assert_null(name_table_new(0));
	name_table_free(t);
	name_table_free(NULL);
}

static void test_the_room_check_counts_new_names_once(void **state)
{
	struct name_table *t = name_table_new(5);
	const char *const next[] = { "a", "new-1", "new-2", "new-1" };
	char err[200] = "";

	(void)state;
	name_table_intern(t, "");
	name_table_intern(t, "a");
	/* "a" is known, "new-1" counts once. */
	assert_int_equal(name_table_missing(t, next, 4), 2);
	assert_int_equal(name_table_check_room(t, next, 4, 0, "client name(s)", err, sizeof(err)), 0);
	assert_int_equal(name_table_check_room(t, next, 4, 1, "client name(s)", err, sizeof(err)), 0);
	/* A reserve the room cannot hold with them: refused, nothing interned. */
	assert_int_equal(name_table_check_room(t, next, 4, 2, "client name(s)", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "2 new client name(s), room for 1 more"));
	assert_int_equal(published(t), 2);
	name_table_free(t);
}

static void test_capacity_leaves_room_for_reloads(void **state)
{
	(void)state;
	assert_int_equal(name_table_capacity_for(0), NAME_TABLE_MIN_ROOM);
	assert_int_equal(name_table_capacity_for(10), 10 + NAME_TABLE_MIN_ROOM);
	assert_int_equal(name_table_capacity_for(1000), 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_name_keeps_its_index),
		cmocka_unit_test(test_a_full_table_refuses),
		cmocka_unit_test(test_the_room_check_counts_new_names_once),
		cmocka_unit_test(test_capacity_leaves_room_for_reloads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
