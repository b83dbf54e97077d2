"""The toolkit's file formats: versioned JSONL streams and schedules, Mooncake traces, and the
careful JSON reading they all go through.

- :mod:`~prefix_sched.theory.formats.jsonio`: reading JSON that refuses every defect in one line
  naming the file, the line and the value; writing only JSON the readers accept;
- :mod:`~prefix_sched.theory.formats.streams`: ``prefix-sched.stream`` files
  (:func:`read_stream`, :func:`write_stream`);
- :mod:`~prefix_sched.theory.formats.schedules`: ``prefix-sched.schedule`` files
  (:func:`read_schedule`, :func:`read_schedule_order`, :func:`write_schedule`);
- :mod:`~prefix_sched.theory.formats.mooncake`: Mooncake traces (:func:`read_mooncake`).
"""

from prefix_sched.theory.formats.jsonio import (
    MAX_DEPTH,
    check_nesting,
    read_json_document,
    read_json_lines,
)
from prefix_sched.theory.formats.mooncake import (
    DEFAULT_TOKENS_PER_MS,
    MOONCAKE_BLOCK,
    read_mooncake,
)
from prefix_sched.theory.formats.schedules import (
    SCHEDULE_FORMAT,
    ScheduleFile,
    read_schedule,
    read_schedule_order,
    write_schedule,
)
from prefix_sched.theory.formats.streams import STREAM_FORMAT, read_stream, write_stream

__all__ = ["DEFAULT_TOKENS_PER_MS", "MAX_DEPTH", "MOONCAKE_BLOCK", "SCHEDULE_FORMAT", "STREAM_FORMAT",
           "ScheduleFile", "check_nesting", "read_json_document", "read_json_lines", "read_mooncake",
           "read_schedule", "read_schedule_order", "read_stream", "write_schedule", "write_stream"]
