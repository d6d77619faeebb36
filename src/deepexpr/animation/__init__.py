"""deepexpr.animation"""
