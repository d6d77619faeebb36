"""deepexpr.faces"""
