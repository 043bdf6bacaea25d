"""course.yaml: the typed schema and its loader."""

from coursekit.config.loader import CourseConfigError, load_course
from coursekit.config.schema import Course, Limits, LatePolicy, Milestone

__all__ = ["Course", "CourseConfigError", "LatePolicy", "Limits", "Milestone", "load_course"]
