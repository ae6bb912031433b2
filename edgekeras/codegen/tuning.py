"""MetaSchedule tuning records. In progress: no records are looked up yet."""


def lookup(func, target, options):
    return None
