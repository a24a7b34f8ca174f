"""Bulk passes' shared machinery: worker processes and their shares, pausing the cyclic GC,
prefetching in a thread, and the progress interface the CLI fills with a bar.

It may import `storage` only.
"""
