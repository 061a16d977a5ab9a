"""The real Vercel build of Tally, and the function it builds, driven the way the platform does.

`make vercel-build` (scripts/vercel_build.py) and tests/test_vercel_function.py run the pinned
Vercel CLI on what a deployment uploads, check `.vercel/output`, copy the function out of it and
call its handler; the benchmark's cold-start section starts the same copy. May import nothing
of the product: it handles the deployment as files and processes, as the platform does.
"""
