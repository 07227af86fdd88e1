"""Runs a peer script with its clock switched to process CPU time: python bench/peers/cpu_clock.py PEER.py ARGS...

The peers time calls and prefills with time.perf_counter; on a machine shared with other jobs, wall time also
counts the time the process waited for a core. With perf_counter replaced by time.process_time, the same code
reports the CPU seconds the process used instead (at one thread that is the work itself; at more, idle threads'
spinning counts too). jitgen's generate_bench reports the same clock as decode_cpu_s.
"""
import os
import runpy
import sys
import time

if __name__ == "__main__":
    peer = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(peer)))
    time.perf_counter = time.process_time
    runpy.run_path(peer, run_name="__main__")
