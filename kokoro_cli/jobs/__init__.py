"""Resumable conversion jobs: one room per concern.

- ``manifest``: the job's typed state (identity, finished chapters, written outputs).
- ``job``: the job folder, its lock, listing and removal.
- ``cache``: the content-addressed piece cache shared by every job.
- ``planner``: chapters planned in a thread while earlier ones are spoken.
- ``render``: pieces → chapter WAVs → the output stage.
- ``verify``, ``listening``: the listening check (``--verify``): results, and pieces heard,
  scored and re-rendered.
- ``timing``: when each piece, sentence and word of a chapter is heard (kept with the chapter).
- ``signals``: stopping after the piece in flight.
- ``executor``: where pieces are spoken (``local``, or ``ray``: actors on a Ray cluster).
- ``run``: one conversion from request to result (identity, lock, no-op check, render).

Import from the modules themselves: the package imports none of them, so ``kokoro-cli jobs
list`` does not load the audio stack.
"""

__all__: list[str] = []
