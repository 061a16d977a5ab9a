"""Tests of `core/`, one package per part."""
