from cloud.dispatch.baseline import assign_nearest_idle
from tests.cloud.dispatch.helpers import east, rider, task


def test_nearest_idle_rider_one_task_each_in_target_order() -> None:
    riders = [rider("west", east(-1000)), rider("east", east(1000)), rider("mid", east(100))]
    tasks = [
        task("later", east(900), east(1200), target_s=3000),
        task("sooner", east(0), east(300), target_s=1000),
    ]
    assert assign_nearest_idle(riders, tasks) == [("sooner", "mid"), ("later", "east")]


def test_skills_and_room_are_respected() -> None:
    riders = [rider("plain", east(0)), rider("cold", east(5000), skills=frozenset({"chilled"}))]
    tasks = [
        task("ice", east(0), east(100), skills=frozenset({"chilled"})),
        task("crate", east(0), east(100), size=9),
    ]
    assert assign_nearest_idle(riders, tasks) == [("ice", "cold")]


def test_no_idle_riders_no_assignments() -> None:
    assert assign_nearest_idle([], [task("t", east(0), east(100))]) == []
