"""Worker processes that survive crashes, time limits and unpicklable values.

How a call travels (the modules of this package in brackets)::

    submitting thread            manager thread [manager]        worker process [worker]
    -----------------            ------------------------        -----------------------
    Pool.submit -> Job
    ProcessRunner.start [runner]
      pickles the call (the
      function once per pool)
      sends it to an idle  ------------------- call ------------>  runs it
      worker, else queues it                                          |
                                 reads the reply  <---- reply --------'
                                 settles the future [outcome]
                                 sends the next queued call
                                 watches exits, time limits,
                                 idle and spent workers [workers]

Workers start with background's own launchers [launch]: ``fork``, ``spawn``
(a fresh interpreter) or its own fork server [forkserver, server], never by
re-running the program's ``__main__``; the parent sees each as a child
process [child]. ``Pool.map`` sends calls in batches sized as they run
(:mod:`background._batch`).

This package is imported only when a process pool is made, and a worker
imports only :mod:`.worker` (and :mod:`background._batch` for a map):
``import background`` stays cheap, and so does a worker's start.
"""
