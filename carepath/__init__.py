"""Carepath: hybrid telehealth on one care path."""
