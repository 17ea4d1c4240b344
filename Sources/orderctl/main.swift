print("orderctl")
