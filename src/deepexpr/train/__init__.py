"""deepexpr.train"""
