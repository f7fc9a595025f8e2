from django.urls import path

from carepath.messaging import views

urlpatterns = [
    path("", views.inbox, name="messages"),
    path("new/", views.new_thread, name="messages-new"),
    path("search/", views.search, name="messages-search"),
    path("templates/", views.quick_replies, name="messages-templates"),
    path(
        "templates/<int:template_id>/retire/",
        views.retire_quick_reply,
        name="messages-template-retire",
    ),
    path("attachments/<int:attachment_id>/", views.attachment, name="messages-attachment"),
    path("<int:thread_id>/", views.thread_page, name="messages-thread"),
    path(
        "<int:thread_id>/messages/<int:message_id>/entered-in-error/",
        views.entered_in_error,
        name="messages-entered-in-error",
    ),
]
