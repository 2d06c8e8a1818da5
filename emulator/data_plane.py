"""The local data plane: what runs the platform's services on this machine, started and
stopped with the emulator (server.serve) after moto is patched (patches.apply_all).

- the task supervisor (tasks.py): ECS services' tasks as local processes, their targets
  registered (targets.TABLE), their output in CloudWatch Logs (awslogs.py);
- the ALB front (alb_front.py) and the health checker (health_checks.py): each listener on
  127.0.0.1, routing by its real rules to healthy targets.
"""


def apply():
    """moto patches of the data plane (before the server starts)."""
    apply_tasks()
    apply_front()


def start(emulator):
    start_tasks(emulator)
    start_front(emulator)


def stop():
    """Everything stopped, no process left (the emulator is stopping)."""
    stop_front()
    stop_tasks()


# -- the task supervisor (tasks.py, awslogs.py, ecs_services.py) --------------------------

def apply_tasks():
    from emulator import ecs_services

    ecs_services.apply()  # TASKS-APPLY


def start_tasks(emulator):
    from emulator import tasks

    tasks.start(emulator)  # TASKS-START


def stop_tasks():
    from emulator import tasks

    tasks.stop()  # TASKS-STOP


# -- the ALB front and the health checker (alb_front.py, health_checks.py) ---------------

def apply_front():
    from emulator import elbv2_fixes

    elbv2_fixes.apply()


def start_front(emulator):
    from emulator.alb_front import FRONT
    from emulator.health_checks import CHECKER

    CHECKER.start()
    FRONT.start(emulator)


def stop_front():
    from emulator.alb_front import FRONT
    from emulator.health_checks import CHECKER

    FRONT.stop()
    CHECKER.stop()
