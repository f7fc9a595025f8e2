from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from carepath.core.decorators import request_user
from carepath.notifications.actions import do_mark_read
from carepath.notifications.selectors import notifications_for


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        do_mark_read(request_user(request))
        return HttpResponseRedirect("/notifications/")
    return render(
        request,
        "notifications/list.html",
        {
            "notifications": notifications_for(request_user(request))[:100],
        },
    )
