"""Tests of the test fakes themselves: they answer as the vendors' documented APIs do."""
